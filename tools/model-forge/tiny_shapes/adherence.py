"""Automatic prompt-adherence metric for generated shape images.

Background colour = median of the 2-pixel border; the shape = pixels far from it; the shape colour
= median of those pixels. Colours are classified by the nearest palette entry. The shape class is
the template (circle/square/triangle/star, rendered by dataset.shape_mask and stretched to the
detected bounding box) with the highest IoU against the detected mask.
"""
import numpy as np

from dataset import COLOURS, PALETTE, SHAPES, shape_mask

_PAL = np.array([PALETTE[c] for c in COLOURS], dtype=np.float32)
_TEMPLATES = {}


def nearest_colour(rgb):
    return COLOURS[int(np.argmin(((_PAL - rgb) ** 2).sum(1)))]


def _template(shape):
    """Binary template of the shape cropped to its own bounding box (rendered large once)."""
    if shape not in _TEMPLATES:
        m = shape_mask(shape, 32.0, 32.0, 28.0, size=64, ss=2) > 0.5
        ys, xs = np.nonzero(m)
        _TEMPLATES[shape] = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return _TEMPLATES[shape]


def _resize_nearest(m, h, w):
    yi = (np.arange(h) * m.shape[0] / h).astype(int)
    xi = (np.arange(w) * m.shape[1] / w).astype(int)
    return m[yi][:, xi]


def analyse(img):
    """img uint8 HxWx3 -> dict(fg, bg, shape) (fg/shape None when no shape is found)."""
    img = img.astype(np.float32)
    border = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3),
                             img[:, :2].reshape(-1, 3), img[:, -2:].reshape(-1, 3)])
    bg_rgb = np.median(border, axis=0)
    dist = np.sqrt(((img - bg_rgb) ** 2).sum(-1))
    mask = dist > 70
    out = {"bg": nearest_colour(bg_rgb), "fg": None, "shape": None}
    if mask.sum() < 20:
        return out
    out["fg"] = nearest_colour(np.median(img[mask], axis=0))
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = mask[y0:y1, x0:x1]
    best, best_iou = None, -1.0
    for s in SHAPES:
        t = _resize_nearest(_template(s), y1 - y0, x1 - x0)
        iou = (t & crop).sum() / max(1, (t | crop).sum())
        if iou > best_iou:
            best, best_iou = s, iou
    out["shape"] = best
    return out


def score(images, labels):
    """Fractions of images whose (fg colour, bg colour, shape, all three) match their labels.

    labels: list of (shape, fg, bg) with bg None when the prompt did not name one."""
    n = len(labels)
    fg = bg = sh = allm = nbg = 0
    for img, (shape, f, b) in zip(images, labels):
        a = analyse(img)
        ok_f, ok_s = a["fg"] == f, a["shape"] == shape
        ok_b = True if b is None else a["bg"] == b
        if b is not None:
            nbg += 1
            bg += ok_b
        fg += ok_f
        sh += ok_s
        allm += ok_f and ok_s and ok_b
    return {"fg": fg / n, "bg": bg / nbg if nbg else None, "shape": sh / n, "all": allm / n}
