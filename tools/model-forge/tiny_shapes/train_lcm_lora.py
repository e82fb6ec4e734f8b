"""Latent consistency distillation of tiny-shapes into an LCM-LoRA (resumable, CPU).

What the LCM-LoRA paper (Luo et al. 2023) and diffusers' train_lcm_distill_lora_sd_wds.py do, at
tiny-shapes' scale:
- teacher: the shipped UNet (frozen), read from the ONNX export (onnx_weights.py), so the forge's
  checkpoints are not needed; the text encoder and VAE encoder likewise;
- student: teacher + LoRA (kohya layout, rank --rank) on every attention projection, feed-forward
  Linear, the transformer proj_in/proj_out 1x1 convs, ResBlock conv1/conv2/skip, the timestep
  projections, and the down/up-sampling convs (the modules the public LCM-LoRA for SD 1.5 touches);
- the teacher's DDIM solver over a 50-step skipping schedule (k = 20): from x_{t_{n+k}} one DDIM step
  with classifier-free guidance (w sampled uniformly in [--w-min, --w-max], teacher output
  cond + w * (cond - uncond)) gives x_{t_n};
- target: the student itself without gradient at (x_{t_n}, t_n) (LCM-LoRA uses no EMA target), both
  through the consistency boundary c_skip(t) x + c_out(t) x0(t) with timestep scaling 10;
- pseudo-Huber loss (c = 0.001), AdamW on the LoRA parameters only.

The LoRA is saved in kohya's layout (`lora_unet_<module>.lora_down.weight` / `.lora_up.weight` /
`.alpha`), the layout of latent-consistency/lcm-lora-sdv1-5, so the studio's merge reads it like any
public LoRA. Usage (from the repo root):

    FORGE_THREADS=1 /usr/bin/python3 tools/model-forge/tiny_shapes/train_lcm_lora.py \
        --steps 1500 --out resources/loras/tiny-shapes-lcm.safetensors
"""
import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from clip_bpe import ClipTokenizer
from common import CKPT_DIR, dataset_cache, save_atomic, set_threads, to_model_range
from dataset import CAPTION_WEIGHTS, COLOURS, SHAPES, caption_variants
from diffusion import alphas_cumprod
from onnx_weights import load_into
from text_encoder import TextEncoder
from unet import UNet
from vae import Encoder

MODEL_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "resources", "models", "tiny-shapes")
LCM_DIR = os.path.join(CKPT_DIR, "lcm-lora")
SEED = 11
SOLVER_STEPS = 50
TIMESTEP_SCALING = 10.0
HUBER_C = 0.001
TARGETS = ("to_q", "to_k", "to_v", "to_out", "ff.0", "ff.2", "proj_in", "proj_out", "conv1", "conv2",
           "skip", "temb", "downsample", "upsample_conv")


class LoRA(nn.Module):
    """W x + (alpha / rank) * up(down(x)); up starts at zero, so the student starts as the teacher."""

    def __init__(self, base, rank, alpha):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        # A rank above what the layer can hold adds nothing: cap it at the weight's own rank and keep
        # the scale (kohya's alpha/rank) by scaling alpha with it, so the saved file merges the same.
        fan_in = base.in_features if isinstance(base, nn.Linear) else base.in_channels * base.kernel_size[0] * base.kernel_size[1]
        fan_out = base.out_features if isinstance(base, nn.Linear) else base.out_channels
        held = min(rank, fan_in, fan_out)
        alpha, rank = alpha * held / rank, held
        self.rank, self.alpha = rank, alpha
        if isinstance(base, nn.Linear):
            self.down = nn.Linear(base.in_features, rank, bias=False)
            self.up = nn.Linear(rank, base.out_features, bias=False)
        else:
            self.down = nn.Conv2d(base.in_channels, rank, base.kernel_size, base.stride, base.padding, bias=False)
            self.up = nn.Conv2d(rank, base.out_channels, 1, bias=False)
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)

    def forward(self, x):
        return self.base(x) + self.scale * self.up(self.down(x))


def add_lora(unet, rank, alpha):
    wrapped = {}
    for name, module in list(unet.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if not isinstance(child, (nn.Linear, nn.Conv2d)):
                continue
            if not any(full.endswith("." + t) or full == t for t in TARGETS):
                continue
            lora = LoRA(child, rank, alpha)
            setattr(module, child_name, lora)
            wrapped[full] = lora
    return wrapped


def lora_state(wrapped):
    """kohya keys: lora_unet_<module path with '.' -> '_'>.{lora_down.weight, lora_up.weight, alpha}."""
    out = {}
    for path, lora in wrapped.items():
        key = "lora_unet_" + path.replace(".", "_")
        out[key + ".lora_down.weight"] = lora.down.weight.detach().clone()
        out[key + ".lora_up.weight"] = lora.up.weight.detach().clone()
        out[key + ".alpha"] = torch.tensor(float(lora.alpha))
    return out


def save_safetensors(tensors, path, metadata):
    """The safetensors format by hand (no safetensors package in Debian's torch): 8-byte LE header
    length, JSON header with dtype/shape/data_offsets, then the raw little-endian tensors."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        arr = tensors[name].detach().float().contiguous().numpy().astype("<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def boundary(t):
    st = t.float() * TIMESTEP_SCALING
    c_skip = 0.25 / (st ** 2 + 0.25)
    c_out = st / (st ** 2 + 0.25).sqrt()
    return c_skip[:, None, None, None], c_out[:, None, None, None]


def x0_from_eps(x, eps, a):
    return (x - (1 - a).sqrt() * eps) / a.sqrt()


def latents(n_images, scaling):
    """VAE-encoder means of the first n dataset images (cached), times the scaling factor."""
    path = os.path.join(LCM_DIR, f"latents_{n_images}.pt")
    if os.path.exists(path):
        return torch.load(path)
    images, labels = dataset_cache()
    enc = load_into(Encoder(), os.path.join(MODEL_DIR, "vae_encoder", "model.onnx"), "encoder.").eval()
    out = []
    with torch.no_grad():
        for i in range(0, n_images, 250):
            mean, _ = enc(to_model_range(images[i:i + 250]))
            out.append(mean * scaling)
    cache = {"z": torch.cat(out), "labels": torch.from_numpy(labels[:n_images])}
    save_atomic(cache, path)
    return cache


def save(args, wrapped, params, opt, step, ck_path):
    """The resumable state and the LoRA as it stands (kohya layout, with a card in the metadata)."""
    save_atomic({"params": [p.detach().clone() for p in params], "opt": opt.state_dict(), "step": step}, ck_path)
    meta = {"format": "kohya", "base_model": "tiny-shapes", "rank": str(args.rank), "alpha": str(args.alpha),
            "steps": str(step), "batch": str(args.batch), "solver": f"DDIM {SOLVER_STEPS}",
            "w_range": f"{args.w_min}-{args.w_max}", "scheduler": "lcm", "guidance": "1.0"}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_safetensors(lora_state(wrapped), args.out, meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--w-min", type=float, default=4.0)
    ap.add_argument("--w-max", type=float, default=7.0)
    ap.add_argument("--images", type=int, default=10000)
    ap.add_argument("--max-minutes", type=float, default=40.0)
    ap.add_argument("--out", default="resources/loras/tiny-shapes-lcm.safetensors")
    args = ap.parse_args()
    set_threads()
    os.makedirs(LCM_DIR, exist_ok=True)
    torch.manual_seed(SEED)
    scaling = json.load(open(os.path.join(MODEL_DIR, "vae_decoder", "config.json")))["scaling_factor"]
    tok = ClipTokenizer.from_files(os.path.join(MODEL_DIR, "tokenizer", "vocab.json"),
                                   os.path.join(MODEL_DIR, "tokenizer", "merges.txt"))
    te = TextEncoder(len(tok.encoder))
    load_into(te, os.path.join(MODEL_DIR, "text_encoder", "model.onnx"), "te.")
    te.eval()
    unet = UNet(context_dim=te.config["hidden_size"])
    load_into(unet, os.path.join(MODEL_DIR, "unet", "model.onnx"))
    unet.eval()
    for p in list(unet.parameters()) + list(te.parameters()):
        p.requires_grad_(False)
    wrapped = add_lora(unet, args.rank, args.alpha)
    params = [p for l in wrapped.values() for p in (l.down.weight, l.up.weight)]
    for p in params:
        p.requires_grad_(True)
    print(f"LoRA on {len(wrapped)} modules, {sum(p.numel() for p in params)} parameters", flush=True)

    data = latents(args.images, scaling)
    z_all, labels = data["z"], data["labels"]
    # Every caption variant of the images' (shape, fg, bg), embedded once (the text encoder is frozen).
    caps = sorted({c for s, f, b in labels.tolist() for c in caption_variants(SHAPES[s], COLOURS[f], COLOURS[b])})
    cap_index = {c: i for i, c in enumerate(caps)}
    with torch.no_grad():
        ctx_table = torch.cat([te(torch.tensor([tok(c) for c in caps[i:i + 512]]))[0]
                               for i in range(0, len(caps), 512)])
        uncond = te(torch.tensor([tok("")]))[0]
    img_caps = torch.tensor([[cap_index[c] for c in caption_variants(SHAPES[s], COLOURS[f], COLOURS[b])]
                             for s, f, b in labels.tolist()])

    ac = alphas_cumprod()
    k = 1000 // SOLVER_STEPS
    solver_t = torch.arange(1, SOLVER_STEPS + 1) * k - 1  # 19, 39, ..., 999
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-2)
    ck_path = os.path.join(LCM_DIR, "state.pt")
    step = 0
    if os.path.exists(ck_path):
        ck = torch.load(ck_path)
        for p, v in zip(params, ck["params"]):
            p.data.copy_(v)
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        print(f"resumed at step {step}", flush=True)
    variant_p = torch.tensor(CAPTION_WEIGHTS)
    t0 = time.time()
    losses = []
    while step < args.steps and (time.time() - t0) / 60 < args.max_minutes:
        g = torch.Generator().manual_seed(SEED * 1_000_003 + step)
        idx = torch.randint(0, len(z_all), (args.batch,), generator=g)
        var = torch.multinomial(variant_p, args.batch, replacement=True, generator=g)
        ctx = ctx_table[img_caps[idx, var]]
        z0 = z_all[idx]
        n = torch.randint(0, SOLVER_STEPS, (args.batch,), generator=g)
        t_start = solver_t[n]
        t_prev = (t_start - k).clamp(min=0)
        a_start = ac[t_start][:, None, None, None]
        a_prev = torch.where(t_start - k >= 0, ac[t_prev], ac[0])[:, None, None, None]
        noise = torch.randn(z0.shape, generator=g)
        x_start = a_start.sqrt() * z0 + (1 - a_start).sqrt() * noise
        w = args.w_min + (args.w_max - args.w_min) * torch.rand(args.batch, generator=g)
        w = w[:, None, None, None]

        # student at t_{n+k}
        skip_s, out_s = boundary(t_start)
        eps_s = unet(x_start, t_start.float(), ctx)
        pred = skip_s * x_start + out_s * x0_from_eps(x_start, eps_s, a_start)
        with torch.no_grad():
            # teacher: one guided DDIM step t_{n+k} -> t_n (LoRA off)
            for l in wrapped.values():
                l.scale = 0.0
            eps_tu = unet(torch.cat([x_start, x_start]), torch.cat([t_start, t_start]).float(),
                          torch.cat([ctx, uncond.expand(args.batch, -1, -1)]))
            for l in wrapped.values():
                l.scale = l.alpha / l.rank
            eps_c, eps_u = eps_tu.chunk(2)
            x0_c, x0_u = x0_from_eps(x_start, eps_c, a_start), x0_from_eps(x_start, eps_u, a_start)
            x0_t = x0_c + w * (x0_c - x0_u)
            eps_t = eps_c + w * (eps_c - eps_u)
            x_prev = a_prev.sqrt() * x0_t + (1 - a_prev).sqrt() * eps_t
            # target: the student itself (no gradient) at t_n
            skip_p, out_p = boundary(t_prev)
            eps_p = unet(x_prev, t_prev.float(), ctx)
            target = skip_p * x_prev + out_p * x0_from_eps(x_prev, eps_p, a_prev)
        loss = (((pred - target) ** 2).flatten(1).sum(1) / pred[0].numel() + HUBER_C ** 2).sqrt().mean() - HUBER_C
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        losses.append(loss.item())
        if step % 25 == 0:
            print(f"step {step} loss {np.mean(losses[-25:]):.5f} {(time.time() - t0) / max(1, len(losses)):.2f}s/step",
                  flush=True)
        if step % 100 == 0:
            save(args, wrapped, params, opt, step, ck_path)
    save(args, wrapped, params, opt, step, ck_path)
    print(f"stopped at step {step} after {(time.time() - t0) / 60:.1f} min -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
