#!/usr/bin/python3
"""Forge a random-weight TAESD decoder (madebyollin/taesd's architecture) as ONNX, in the folder
layout the studio reads for tiny VAE decoders.

    /usr/bin/python3 tools/model-forge/taesd_random.py --out DIR [--full] [--channels N]
        [--family sd1|sdxl] [--seed 0] [--opset 17] [--threads 2]

Writes DIR/vae_decoder/model.onnx + DIR/vae_decoder/config.json (+ DIR/README.md). A person's
own decoders go to <LATENT_STUDIO_HOME>/vae/<name>/ in the same layout; the `tiny-vae` recipe
uses the one whose config.json names the model's latent family.

Architecture (the TAESD decoder; diffusers' `DecoderTiny` with AutoencoderTiny's defaults
num_decoder_blocks (3, 3, 3, 1), decoder_block_out_channels (64, 64, 64, 64), act_fn relu,
upsample_fn nearest, upsampling_scaling_factor 2):

    tanh(x / 3) * 3                                  (latent clamp)
    Conv3x3(4 -> C) + bias, ReLU
    3 x { 3 x Block(C), Upsample x2 nearest, Conv3x3(C -> C) no bias }
    Block(C), Conv3x3(C -> 3) + bias
    Block(C) = ReLU(conv3x3 -> ReLU -> conv3x3 -> ReLU -> conv3x3  +  x)   (skip: identity)

All convs are 3x3, padding 1; inside a Block every conv has a bias. With C = 64 that is
1,222,531 parameters (taesd_decoder.pth's count). `--full` forges C = 64; the default C = 12 is
the committed test fixture (same layout, fewer channels, ~180 KB).

Output: the RAW decoder output, nominally [0, 1] (what madebyollin's taesd.py Decoder returns),
NOT diffusers' AutoencoderTiny.decode, which maps it to [-1, 1] with `x * 2 - 1`. config.json
says so: "output_range": [0, 1]; the studio maps it to its [-1, 1] image convention.
Input `latent_sample` [batch, 4, h, w] float32 (batch, h, w symbolic) holds the UNet's latents
as they are: AutoencoderTiny's scaling_factor is 1.0, so nothing is divided before decoding.
Output `sample` [batch, 3, 8h, 8w] float32.

Random weights: He-initialised convs, each block's last conv scaled down so the residual stack
stays bounded, and the final conv calibrated on random latents so outputs sit around 0.5, inside
[0, 1] (for latents like a UNet's; the architecture itself does not clamp its output). Pictures are structured noise; latency and memory are the real architecture's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import onnx
import torch
from torch import nn

DIFFUSERS_VERSION = "0.30.3"


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


def conv(n_in: int, n_out: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, bias=bias)


class Block(nn.Module):
    """TAESD's Block / diffusers' AutoencoderTinyBlock with in == out (identity skip)."""

    def __init__(self, n: int):
        super().__init__()
        self.conv = nn.Sequential(conv(n, n), nn.ReLU(), conv(n, n), nn.ReLU(), conv(n, n))
        self.skip = nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def decoder(c: int, latent_channels: int = 4) -> nn.Sequential:
    layers: list[nn.Module] = [Clamp(), conv(latent_channels, c), nn.ReLU()]
    for _ in range(3):
        layers += [Block(c), Block(c), Block(c), nn.Upsample(scale_factor=2), conv(c, c, bias=False)]
    layers += [Block(c), conv(c, 3)]
    return nn.Sequential(*layers)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@torch.no_grad()
def randomise(m: nn.Sequential, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            fan_in = mod.in_channels * 9
            mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
            if mod.bias is not None:
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.01)
        if isinstance(mod, Block):
            # The residual branch's last conv small: ten blocks of x + f(x) then grow slowly.
            mod.conv[4].weight.mul_(0.25)
    # Calibrate the last conv on random latents (SD's scaled latents have std ~1; the clamp bounds
    # them to +-3): centred on 0.5, scaled so the furthest probe value is 0.4 away, inside [0, 1].
    final: nn.Conv2d = m[-1]
    probe = torch.cat([torch.randn(6, 4, 16, 16, generator=g) * 1.5,
                       torch.rand(6, 4, 16, 16, generator=g) * 7 - 3.5])
    out = m(probe)
    mean = out.mean(dim=(0, 2, 3))
    spread = (out - mean.view(1, 3, 1, 1)).abs().amax(dim=(0, 2, 3)).clamp_min(1e-6)
    final.weight.mul_((0.4 / spread).view(3, 1, 1, 1))
    final.bias.copy_((final.bias - mean) * (0.4 / spread) + 0.5)
    out = m(torch.randn(8, 4, 16, 16, generator=g) * 1.5)
    return {"min": float(out.min()), "max": float(out.max()), "mean": float(out.mean())}


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def config(c: int, family: str) -> dict:
    return {
        "_class_name": "AutoencoderTiny",
        "_diffusers_version": DIFFUSERS_VERSION,
        "_note": (
            "Random-weight TAESD decoder forged by tools/model-forge/taesd_random.py. "
            "vae_decoder/model.onnx is the raw TAESD decoder: latent_sample is the UNet's latents "
            "as they are (scaling_factor 1.0), sample is in output_range [0, 1], not diffusers' [-1, 1]."
        ),
        "act_fn": "relu",
        "decoder_block_out_channels": [c, c, c, c],
        "encoder_block_out_channels": [c, c, c, c],
        "force_upcast": False,
        "in_channels": 3,
        "latent_channels": 4,
        "latent_magnitude": 3,
        "latent_shift": 0.5,
        "num_decoder_blocks": [3, 3, 3, 1],
        "num_encoder_blocks": [1, 3, 3, 3],
        "out_channels": 3,
        "scaling_factor": 1.0,
        "shift_factor": 0.0,
        "upsample_fn": "nearest",
        "upsampling_scaling_factor": 2,
        "latent_family": family,
        "output_range": [0, 1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write (gets vae_decoder/ inside)")
    ap.add_argument("--full", action="store_true", help="the real width: 64 channels, 1.22 M parameters")
    ap.add_argument("--channels", type=int, default=None, help="channel width (default 12; --full: 64)")
    ap.add_argument("--family", choices=("sd1", "sdxl"), default="sd1",
                    help="latent family: sd1 = SD 1.x/2.x latents (taesd), sdxl = SDXL latents (taesdxl)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = a.channels or (64 if a.full else 12)
    out = os.path.abspath(a.out)
    m = decoder(c).eval()
    stats = randomise(m, a.seed)
    n = count_params(m)
    print(f"TAESD decoder, {c} channels: {n:,} parameters; raw output on probe latents "
          f"min {stats['min']:.3f} max {stats['max']:.3f} mean {stats['mean']:.3f}", flush=True)
    dest = os.path.join(out, "vae_decoder")
    os.makedirs(dest, exist_ok=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory(dir=dest) as td:
        tmp = os.path.join(td, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(
                m, (torch.randn(1, 4, 8, 8),), tmp,
                input_names=["latent_sample"], output_names=["sample"],
                dynamic_axes={
                    "latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
                    "sample": {0: "batch_size", 2: "latent_height_x8", 3: "latent_width_x8"},
                },
                opset_version=a.opset, do_constant_folding=True)
        model = onnx.load(tmp)
        onnx.checker.check_model(model)
        model.producer_name = "latent-studio taesd_random.py"
        model.doc_string = f"random-weight TAESD decoder, {c} channels, seed {a.seed}, output [0, 1]"
        onnx.save_model(model, os.path.join(dest, "model.onnx"))
    write_json(os.path.join(dest, "config.json"), config(c, a.family))
    size = os.path.getsize(os.path.join(dest, "model.onnx"))
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(
            f"# {os.path.basename(out)} (random-weight TAESD decoder)\n\n"
            f"Written by `/usr/bin/python3 tools/model-forge/taesd_random.py --out {a.out}"
            f"{' --full' if a.full else ''}{f' --channels {c}' if a.channels else ''}"
            f" --family {a.family} --seed {a.seed}`. RANDOM weights: pictures are structured noise.\n\n"
            f"- TAESD decoder architecture (diffusers `DecoderTiny`, blocks 3/3/3/1) at {c} channels"
            f"{' (the real width)' if c == 64 else ' (the real one has 64: this is a small test fixture)'}:"
            f" {n:,} parameters, {size / 1024:.0f} KiB.\n"
            f"- `vae_decoder/model.onnx`: input `latent_sample` [batch, 4, h, w] float32 (the UNet's latents,"
            f" not divided: scaling_factor 1.0), output `sample` [batch, 3, 8h, 8w] float32, the raw decoder"
            f" output in [0, 1] (`output_range` in config.json), ONNX opset {a.opset}.\n"
            f"- latent family `{a.family}` (`latent_family` in config.json).\n"
        )
    print(f"wrote {dest} ({size / 1024:.0f} KiB) in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
