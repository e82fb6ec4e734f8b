"""Train the tiny KL autoencoder on crops of the shapes dataset (resumable).

Usage: /usr/bin/python3 train_vae.py --steps 1800
"""
import argparse
import os
import time

import numpy as np
import torch

from common import CKPT_DIR, VAE_SEED, dataset_cache, save_atomic, set_threads, to_model_range, to_uint8
from png_io import tile, write_png
from vae import AutoencoderKL

CROP = 32          # train on 32x32 crops (aligned to the 8x grid): 4x cheaper than full images
KL_WEIGHT = 1e-4   # small, like SD: keeps latents smooth without hurting reconstruction much


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    set_threads()
    torch.manual_seed(VAE_SEED)
    rng = np.random.default_rng(VAE_SEED)
    images, _ = dataset_cache()
    holdout = to_model_range(images[-64:])
    images = images[:-64]

    model = AutoencoderKL()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    path = os.path.join(CKPT_DIR, "vae.pt")
    step = 0
    if os.path.exists(path):
        ck = torch.load(path)
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        rng = np.random.default_rng(VAE_SEED + step)
        print(f"resumed at step {step}", flush=True)

    t0 = time.time()
    while step < args.steps:
        # cosine decay to 10% so the final reconstructions are sharp
        lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = rng.integers(0, len(images), args.batch)
        # last 15% of steps on full 64x64 images so the borders are learned too
        crop = CROP if step < 0.85 * args.steps else 64
        oy, ox = (rng.integers(0, (64 - crop) // 8 + 1, 2) * 8)
        x = to_model_range(images[idx, oy:oy + crop, ox:ox + crop])
        rec, mean, logvar = model(x)
        rec_loss = (rec - x).abs().mean() + ((rec - x) ** 2).mean()
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = rec_loss + KL_WEIGHT * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0 or step == args.steps:
            with torch.no_grad():
                model.eval()
                rec_h, mean_h, _ = model(holdout, sample=False)
                model.train()
                hl1 = (rec_h - holdout).abs().mean().item()
            print(f"step {step} loss {rec_loss.item():.4f} kl {kl.item():.2f} holdout_l1 {hl1:.4f} "
                  f"latent_std {mean_h.std().item():.3f} lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, path)
        if step % 300 == 0 or step == args.steps:
            both = np.concatenate([to_uint8(holdout[:16]), to_uint8(rec_h[:16])])
            write_png(os.path.join(CKPT_DIR, "vae_preview.png"), tile(both, 16))


if __name__ == "__main__":
    main()
