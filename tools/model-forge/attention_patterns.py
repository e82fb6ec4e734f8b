"""Tiny ONNX models, one per way an attention core reaches ONNX, for the `attention` fusion tests.

Each model is x [batch, seq, 32] (plus context [batch, ctx_seq, 48] for cross-attention) -> a
projection -> one attention block -> an output projection. Weights are random (seed 1234); the
point is the graph shape each export leaves behind, not what the network computes.

Run with Debian's torch 1.13 (the exporter these shapes come from):
    /usr/bin/python3 tools/model-forge/attention_patterns.py
Writes test/fixtures/attention/<name>.onnx (weights embedded, a few KB each).
"""
import math
import os
import sys

import onnx
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "attention")
OPSET = 17
DIM = 32
CTX_DIM = 48
HEADS = 4


class Block(nn.Module):
    """Projections shared by every pattern; `core` is what differs between exports."""

    def __init__(self, dim=DIM, heads=HEADS, context_dim=None):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.inp = nn.Linear(dim, dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(context_dim or dim, dim)
        self.v = nn.Linear(context_dim or dim, dim)
        self.o = nn.Linear(dim, dim)

    def forward(self, x, context=None):
        h = self.inp(x)
        ctx = h if context is None else context
        return self.o(self.core(self.q(h), self.k(ctx), self.v(ctx)))

    # 4D head split with python-int head size, as tiny-shapes' Attention writes it.
    def split4(self, t):
        return t.reshape(t.shape[0], -1, self.heads, self.head_dim).transpose(1, 2)

    def merge4(self, t):
        return t.transpose(1, 2).reshape(t.shape[0], -1, self.heads * self.head_dim)


class Split4D(Block):
    def core(self, q, k, v):
        q, k, v = self.split4(q), self.split4(k), self.split4(v)
        att = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        return self.merge4(torch.matmul(att.softmax(dim=-1), v))


class DiffusersBaddbmm(Block):
    """diffusers' classic AttnProcessor: heads folded into the batch, scores via baddbmm."""

    def head_to_batch(self, t):
        b, s, d = t.shape
        t = t.reshape(b, s, self.heads, d // self.heads).permute(0, 2, 1, 3)
        return t.reshape(b * self.heads, s, d // self.heads)

    def batch_to_head(self, t):
        bh, s, d = t.shape
        t = t.reshape(bh // self.heads, self.heads, s, d).permute(0, 2, 1, 3)
        return t.reshape(bh // self.heads, s, d * self.heads)

    def core(self, q, k, v):
        q, k, v = self.head_to_batch(q), self.head_to_batch(k), self.head_to_batch(v)
        empty = torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype, device=q.device)
        scores = torch.baddbmm(empty, q, k.transpose(-1, -2), beta=0, alpha=self.scale)
        probs = scores.softmax(dim=-1).to(q.dtype)
        return self.batch_to_head(torch.bmm(probs, v))


class SdpaStyle(Block):
    """The scale split over q and kᵀ as sqrt(scale) each, as torch 2's SDPA ONNX export does."""

    def core(self, q, k, v):
        root = math.sqrt(self.scale)
        q, k, v = self.split4(q), self.split4(k), self.split4(v)
        att = torch.matmul(q * root, k.transpose(-2, -1) * root)
        return self.merge4(torch.matmul(torch.softmax(att, dim=-1), v))


class DivScale(Block):
    def core(self, q, k, v):
        q, k, v = self.split4(q), self.split4(k), self.split4(v)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        return self.merge4(torch.matmul(att.softmax(dim=-1), v))


class Cross(Split4D):
    def __init__(self):
        super().__init__(heads=2, context_dim=CTX_DIM)


class Masked(Split4D):
    """An additive mask before the Softmax: must be left alone (MHA here runs without one)."""

    def core(self, q, k, v):
        q, k, v = self.split4(q), self.split4(k), self.split4(v)
        s = q.shape[2]
        mask = torch.full((s, s), float("-inf")).triu(1)
        att = torch.matmul(q, k.transpose(-1, -2)) * self.scale + mask
        return self.merge4(torch.matmul(att.softmax(dim=-1), v))


PATTERNS = {
    "split4d": (Split4D, False),
    "diffusers-baddbmm": (DiffusersBaddbmm, False),
    "sdpa-sqrt-scale": (SdpaStyle, False),
    "div-scale": (DivScale, False),
    "cross-context48": (Cross, True),
    "masked": (Masked, False),
}


def export(name, cls, cross):
    torch.manual_seed(1234)
    net = cls().eval()
    x = torch.randn(2, 16, DIM)
    args = (x,)
    names = ["x"]
    axes = {"x": {0: "batch", 1: "sequence"}, "y": {0: "batch", 1: "sequence"}}
    if cross:
        args = (x, torch.randn(2, 77, CTX_DIM))
        names.append("context")
        axes["context"] = {0: "batch", 1: "context_sequence"}
    path = os.path.join(OUT, f"{name}.onnx")
    with torch.no_grad():
        torch.onnx.export(net, args, path, input_names=names, output_names=["y"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    print(f"{name}: {os.path.getsize(path)} bytes, {len(ops)} nodes, "
          f"Softmax {ops.count('Softmax')}, MatMul {ops.count('MatMul')}")


def main():
    os.makedirs(OUT, exist_ok=True)
    wanted = sys.argv[1:] or list(PATTERNS)
    for name in wanted:
        cls, cross = PATTERNS[name]
        export(name, cls, cross)


if __name__ == "__main__":
    main()
