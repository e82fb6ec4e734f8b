"""Procedural "tiny shapes" dataset: one coloured shape on a plain background.

Every image is 64x64 RGB, rendered with numpy (4x4 supersampled, so edges are anti-aliased).
Everything is driven by an explicit seed so the dataset, and therefore the model, is reproducible.
"""
import numpy as np

IMAGE_SIZE = 64
SUPERSAMPLE = 4

# Eight well-separated colours, so a colour word maps to one unambiguous RGB value and the
# adherence metric can classify a generated colour by its nearest palette entry.
PALETTE = {
    "red": (220, 30, 30),
    "orange": (250, 140, 20),
    "yellow": (245, 225, 40),
    "green": (30, 160, 60),
    "blue": (30, 70, 220),
    "purple": (140, 50, 190),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOURS = list(PALETTE)
SHAPES = ["circle", "square", "triangle", "star"]


def shape_mask(shape, cx, cy, r, size=IMAGE_SIZE, ss=SUPERSAMPLE):
    """Coverage in [0,1] of `shape` centred at (cx, cy) with "radius" r (pixels), anti-aliased."""
    n = size * ss
    coords = (np.arange(n, dtype=np.float32) + 0.5) / ss
    x = coords[None, :] - cx
    y = coords[:, None] - cy
    if shape == "circle":
        inside = x * x + y * y <= r * r
    elif shape == "square":
        # Half-side 0.85 r so a square and a circle of the same r look similarly big.
        h = 0.85 * r
        inside = (np.abs(x) <= h) & (np.abs(y) <= h)
    elif shape == "triangle":
        inside = _polygon_inside(x, y, _regular_polygon(3, r, 0.0))
    elif shape == "star":
        inside = _star_inside(x, y, r)
    else:
        raise ValueError(shape)
    cov = inside.astype(np.float32).reshape(size, ss, size, ss).mean(axis=(1, 3))
    return cov


def _regular_polygon(k, r, inner_ratio):
    """Vertices of an upward-pointing regular k-gon (inner_ratio=0) or k-pointed star."""
    pts = []
    steps = k * 2 if inner_ratio else k
    for i in range(steps):
        ang = -np.pi / 2 + i * 2 * np.pi / steps
        rad = r if (i % 2 == 0 or not inner_ratio) else r * inner_ratio
        pts.append((rad * np.cos(ang), rad * np.sin(ang)))
    return np.array(pts, dtype=np.float32)


def _polygon_inside(x, y, verts):
    """Convex polygon test (vertices in clockwise screen order): inside every edge half-plane."""
    inside = np.ones(np.broadcast(x, y).shape, dtype=bool)
    for i in range(len(verts)):
        x0, y0 = verts[i]
        x1, y1 = verts[(i + 1) % len(verts)]
        inside &= (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) >= 0
    return inside


def _star_inside(x, y, r):
    """Five-pointed star = union of five triangles (tip, centre-ish inner points) plus the pentagon."""
    verts = _regular_polygon(5, r, 0.45)
    inside = _polygon_inside(x, y, verts[1::2])  # inner pentagon
    for i in range(0, 10, 2):
        tri = np.array([verts[i], verts[(i + 1) % 10], verts[(i - 1) % 10]], dtype=np.float32)
        # order so the half-plane test holds (clockwise on screen): tip, right inner, left inner
        inside |= _polygon_inside(x, y, tri)
    return inside


def render(shape, fg, bg, cx, cy, r):
    """uint8 HxWx3 image of `shape` in colour `fg` on background `bg`."""
    cov = shape_mask(shape, cx, cy, r)[..., None]
    fg_rgb = np.array(PALETTE[fg], dtype=np.float32)
    bg_rgb = np.array(PALETTE[bg], dtype=np.float32)
    img = cov * fg_rgb + (1 - cov) * bg_rgb
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def sample_params(rng):
    """Random (shape, fg, bg, cx, cy, r) with the whole shape inside the frame."""
    shape = SHAPES[rng.integers(len(SHAPES))]
    fg = COLOURS[rng.integers(len(COLOURS))]
    bg = COLOURS[rng.integers(len(COLOURS) - 1)]
    if bg == fg:  # pick uniformly among the other seven
        bg = COLOURS[-1]
    r = float(rng.uniform(12, 24))
    margin = r + 2
    cx = float(rng.uniform(margin, IMAGE_SIZE - margin))
    cy = float(rng.uniform(margin, IMAGE_SIZE - margin))
    return shape, fg, bg, cx, cy, r


def caption_variants(shape, fg, bg):
    """All training captions for one image; the long form is the canonical one."""
    art, bg_art = _article(fg), _article(bg)
    return [
        f"{art} {fg} {shape} on {bg_art} {bg} background",
        f"{fg} {shape} on {bg} background",
        f"{art} {fg} {shape}",
        f"{fg} {shape}",
    ]


def _article(word):
    return "an" if word[0] in "aeiou" else "a"


# Probability of each caption variant during training (long form most often).
CAPTION_WEIGHTS = [0.55, 0.15, 0.15, 0.15]


def make_dataset(n, seed):
    """Returns (images uint8 [n,64,64,3], labels list of (shape, fg, bg)). Deterministic in seed."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    labels = []
    for i in range(n):
        shape, fg, bg, cx, cy, r = sample_params(rng)
        images[i] = render(shape, fg, bg, cx, cy, r)
        labels.append((shape, fg, bg))
    return images, labels


def caption_corpus():
    """Every caption the model is trained on (used to learn the BPE vocabulary)."""
    out = []
    for shape in SHAPES:
        for fg in COLOURS:
            for bg in COLOURS:
                if fg != bg:
                    out.extend(caption_variants(shape, fg, bg))
    return out
