#!/usr/bin/python3
"""PyTorch references for the studio's LoRA merge (test/fixtures/lora/). Run from the repo root:

    FORGE_THREADS=1 /usr/bin/python3 tools/model-forge/lora_fixtures.py

1. `small/`: a small torch module (ModuleList scopes; a bias-free Linear exported as MatMul with an
   anonymous transposed weight; a Linear with bias exported as Gemm; a 1x1 Conv with a Linear-shaped
   LoRA; a 3x3 Conv with a Conv-shaped LoRA), its ONNX export, a PEFT-layout LoRA (alpha present for
   some modules, missing for others), fixed inputs, and the outputs of the torch module with the LoRA
   merged the PyTorch way (W += scale * alpha / rank * up @ down, as diffusers' fuse_lora does).
2. `tiny-shapes-random.safetensors` + `tiny-shapes-ref.json`/`.bin`: a random rank-4 kohya LoRA on
   every module the tiny-shapes LCM-LoRA touches, and the tiny-shapes UNet's output (torch, weights
   read from the shipped ONNX) with it merged at scale 0.8, on fixed inputs.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "tiny_shapes"))
from onnx_weights import load_into  # noqa: E402
from train_lcm_lora import TARGETS, save_safetensors  # noqa: E402
from unet import UNet  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "lora")
TINY = os.path.join(HERE, "..", "..", "resources", "models", "tiny-shapes")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.to_q = nn.Linear(16, 24, bias=False)
        self.proj = nn.Conv2d(8, 8, 1)
        self.conv = nn.Conv2d(8, 12, 3, padding=1)

    def forward(self, x, tokens):
        return self.conv(self.proj(x)), self.to_q(tokens)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.temb = nn.Linear(6, 12)

    def forward(self, x, tokens, t):
        y0, q0 = self.blocks[0](x, tokens)
        y1, q1 = self.blocks[1](x, tokens)
        y = y0 + y1 + self.temb(t)[:, :, None, None]
        return y, torch.cat([q0, q1], dim=-1)


def merge(module, down, up, factor):
    """The PyTorch reference merge: W += factor * up @ down (flattened over Conv kernels)."""
    w = module.weight.data
    delta = (up.reshape(up.shape[0], -1) @ down.reshape(down.shape[0], -1)) * factor
    w += delta.reshape(w.shape)


def write_f32(path, arrays):
    with open(path, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def small():
    torch.manual_seed(5)
    net = Small().eval()
    x, tokens, t = torch.randn(1, 8, 5, 5), torch.randn(1, 7, 16), torch.randn(1, 6)
    d = os.path.join(OUT, "small")
    os.makedirs(d, exist_ok=True)
    torch.onnx.export(net, (x, tokens, t), os.path.join(d, "model.onnx"), input_names=["x", "tokens", "t"],
                      output_names=["y", "q"], opset_version=17)
    g = torch.Generator().manual_seed(9)
    scale = 0.75
    lora = {}
    # (module path, down shape, up shape, alpha or None)
    specs = [("blocks.0.to_q", (4, 16), (24, 4), 8.0), ("blocks.1.to_q", (2, 16), (24, 2), None),
             ("blocks.0.proj", (3, 8), (8, 3), 1.5), ("blocks.1.conv", (4, 8, 3, 3), (12, 4, 1, 1), 2.0),
             ("temb", (2, 6), (12, 2), None)]
    for path, ds, us, alpha in specs:
        down, up = torch.randn(ds, generator=g) * 0.3, torch.randn(us, generator=g) * 0.3
        key = "unet.base_model.model." + path
        lora[key + ".lora_A.weight"], lora[key + ".lora_B.weight"] = down, up
        if alpha is not None:
            lora[key + ".alpha"] = torch.tensor(alpha)
        factor = scale * (alpha if alpha is not None else ds[0]) / ds[0]
        merge(net.get_submodule(path), down, up, factor)
    save_safetensors(lora, os.path.join(d, "peft-lora.safetensors"), {"format": "peft"})
    with torch.no_grad():
        y, q = net(x, tokens, t)
    write_f32(os.path.join(d, "inputs.bin"), [x.numpy(), tokens.numpy(), t.numpy()])
    write_f32(os.path.join(d, "expected.bin"), [y.numpy(), q.numpy()])
    json.dump({"scale": scale, "inputs": {"x": list(x.shape), "tokens": list(tokens.shape), "t": list(t.shape)},
               "outputs": {"y": list(y.shape), "q": list(q.shape)}}, open(os.path.join(d, "meta.json"), "w"), indent=1)


def tiny_shapes():
    unet = UNet(context_dim=128)
    load_into(unet, os.path.join(TINY, "unet", "model.onnx"))
    unet.eval()
    g = torch.Generator().manual_seed(21)
    scale, rank, alpha = 0.8, 4, 2.0
    lora = {}
    for name, m in unet.named_modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)) or not any(name.endswith("." + t) or name == t for t in TARGETS):
            continue
        if isinstance(m, nn.Linear):
            down = torch.randn(rank, m.in_features, generator=g) / m.in_features ** 0.5
            up = torch.randn(m.out_features, rank, generator=g) * 0.05
        else:
            k = m.kernel_size
            down = torch.randn(rank, m.in_channels, *k, generator=g) / (m.in_channels * k[0] * k[1]) ** 0.5
            up = torch.randn(m.out_channels, rank, 1, 1, generator=g) * 0.05
        key = "lora_unet_" + name.replace(".", "_")
        lora[key + ".lora_down.weight"], lora[key + ".lora_up.weight"] = down, up
        lora[key + ".alpha"] = torch.tensor(alpha)
        merge(m, down, up, scale * alpha / rank)
    save_safetensors(lora, os.path.join(OUT, "tiny-shapes-random.safetensors"), {"format": "kohya"})
    gi = torch.Generator().manual_seed(22)
    sample = torch.randn(2, 4, 8, 8, generator=gi)
    timestep = torch.tensor([901.0, 41.0])
    ctx = torch.randn(2, 77, 128, generator=gi)
    with torch.no_grad():
        out = unet(sample, timestep, ctx)
    write_f32(os.path.join(OUT, "tiny-shapes-ref.bin"), [sample.numpy(), timestep.numpy(), ctx.numpy(), out.numpy()])
    json.dump({"scale": scale, "modules": len(lora) // 3, "sample": list(sample.shape), "timestep": [2],
               "encoder_hidden_states": list(ctx.shape), "out_sample": list(out.shape)},
              open(os.path.join(OUT, "tiny-shapes-ref.json"), "w"), indent=1)


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("FORGE_THREADS", "1")))
    os.makedirs(OUT, exist_ok=True)
    small()
    tiny_shapes()
    print("wrote", os.path.abspath(OUT))
