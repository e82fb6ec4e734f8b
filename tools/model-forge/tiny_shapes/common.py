"""Shared paths, seeds and helpers for the tiny-shapes forge."""
import os
import time

import numpy as np
import torch

CKPT_DIR = os.environ.get("FORGE_CKPT_DIR", "/work/forge-ckpt")
DATASET_SEED = 1234
DATASET_SIZE = 30000
VAE_SEED = 1
UNET_SEED = 2


def set_threads():
    # torch defaults to a single thread here; the machine has two cores.
    torch.set_num_threads(int(os.environ.get("FORGE_THREADS", "2")))


def dataset_cache():
    """The training images, rendered once and cached as .npz next to the checkpoints."""
    from dataset import make_dataset, SHAPES, COLOURS
    path = os.path.join(CKPT_DIR, f"dataset_{DATASET_SEED}_{DATASET_SIZE}.npz")
    if not os.path.exists(path):
        os.makedirs(CKPT_DIR, exist_ok=True)
        t = time.time()
        images, labels = make_dataset(DATASET_SIZE, DATASET_SEED)
        lab = np.array([(SHAPES.index(s), COLOURS.index(f), COLOURS.index(b)) for s, f, b in labels], np.int64)
        np.savez(path + ".tmp.npz", images=images, labels=lab)
        os.replace(path + ".tmp.npz", path)
        print(f"rendered dataset in {time.time() - t:.1f}s -> {path}", flush=True)
    d = np.load(path)
    return d["images"], d["labels"]


def to_model_range(images_uint8):
    """uint8 NHWC -> float NCHW in [-1, 1] (Stable Diffusion's image convention)."""
    return torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8(x):
    """float NCHW in [-1, 1] -> uint8 NHWC, the same clip(x/2+0.5) the studio applies."""
    x = (x / 2 + 0.5).clamp(0, 1)
    return (x.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()


def save_atomic(obj, path):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)
