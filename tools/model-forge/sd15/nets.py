"""Hand-written torch modules with Stable Diffusion 1.5's exact architecture.

UNet2DConditionModel (SD 1.5 config), CLIP ViT-L/14 text transformer, and AutoencoderKL's
encoder/decoder, written from the published architecture (no diffusers / transformers here).
Parameter shapes and counts follow the real model (UNet ~859.5M, CLIP text ~123.1M,
VAE ~83.7M); parameter *names* do not, since the weights are random anyway.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------------------------
class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int | None, groups: int = 32, eps: float = 1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, qkv_bias: bool = False):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=qkv_bias)
        self.to_k = nn.Linear(kv_dim or dim, dim, bias=qkv_bias)
        self.to_v = nn.Linear(kv_dim or dim, dim, bias=qkv_bias)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, ctx=None, mask=None):
        ctx = x if ctx is None else ctx
        b, s, d = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, s, h, d // h).transpose(1, 2)
        k = self.to_k(ctx).reshape(b, -1, h, d // h).transpose(1, 2)
        v = self.to_v(ctx).reshape(b, -1, h, d // h).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h))
        if mask is not None:
            att = att + mask
        out = torch.matmul(att.softmax(-1), v).transpose(1, 2).reshape(b, s, d)
        return self.to_out(out)


def sinusoidal(t, dim: int, flip_sin_to_cos: bool = True, shift: float = 0.0):
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32) / (half - shift)
    args = t.float().unsqueeze(-1) * torch.exp(exponent).unsqueeze(0)
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


# ---------------------------------------------------------------------------------------------
# UNet (SD 1.5)
# ---------------------------------------------------------------------------------------------
class GEGLUFeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.proj = nn.Linear(dim, dim * mult * 2)
        self.out = nn.Linear(dim * mult, dim)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return self.out(h * F.gelu(gate))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, cross_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, kv_dim=cross_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = GEGLUFeedForward(dim)

    def forward(self, x, ctx):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), ctx)
        return x + self.ff(self.norm3(x))


class Transformer2D(nn.Module):
    """SD1.x Transformer2DModel: GroupNorm, 1x1 conv proj_in/proj_out (use_linear_projection False)."""

    def __init__(self, ch: int, heads: int, cross_dim: int, depth: int = 1):
        super().__init__()
        self.norm = nn.GroupNorm(32, ch, eps=1e-6)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.blocks = nn.ModuleList([BasicTransformerBlock(ch, heads, cross_dim) for _ in range(depth)])
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x))
        h = h.reshape(b, c, hh * ww).transpose(1, 2)
        for blk in self.blocks:
            h = blk(h, ctx)
        h = h.transpose(1, 2).reshape(b, c, hh, ww)
        return self.proj_out(h) + x


class Downsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


SD15_UNET = dict(
    block_out_channels=(320, 640, 1280, 1280),
    down_attn=(True, True, True, False),  # CrossAttnDownBlock2D x3, DownBlock2D
    up_attn=(False, True, True, True),  # UpBlock2D, CrossAttnUpBlock2D x3
    layers_per_block=2,
    heads=8,  # diffusers' "attention_head_dim: 8" is really the head count for SD1.x
    cross_attention_dim=768,
    transformer_depth=1,
)


class UNet2DCondition(nn.Module):
    def __init__(self, block_out_channels=(320, 640, 1280, 1280), down_attn=(True, True, True, False),
                 up_attn=(False, True, True, True), layers_per_block=2, heads=8, cross_attention_dim=768,
                 transformer_depth=1, in_channels=4, out_channels=4):
        super().__init__()
        boc = list(block_out_channels)
        temb = boc[0] * 4
        self.time_ch = boc[0]
        self.time_1 = nn.Linear(boc[0], temb)
        self.time_2 = nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(in_channels, boc[0], 3, padding=1)

        self.down = nn.ModuleList()
        cin = boc[0]
        for i, cout in enumerate(boc):
            blk = nn.Module()
            blk.resnets = nn.ModuleList(
                [ResnetBlock(cin if j == 0 else cout, cout, temb) for j in range(layers_per_block)])
            blk.attns = nn.ModuleList(
                [Transformer2D(cout, heads, cross_attention_dim, transformer_depth) for _ in range(layers_per_block)]
            ) if down_attn[i] else None
            blk.downsample = Downsample(cout) if i < len(boc) - 1 else None
            self.down.append(blk)
            cin = cout

        mid = boc[-1]
        self.mid_res1 = ResnetBlock(mid, mid, temb)
        self.mid_attn = Transformer2D(mid, heads, cross_attention_dim, transformer_depth)
        self.mid_res2 = ResnetBlock(mid, mid, temb)

        self.up = nn.ModuleList()
        rev = boc[::-1]
        prev_out = rev[0]
        for i, cout in enumerate(rev):
            cin_skip = rev[min(i + 1, len(boc) - 1)]
            blk = nn.Module()
            res = []
            for j in range(layers_per_block + 1):
                skip = cin_skip if j == layers_per_block else cout
                rin = prev_out if j == 0 else cout
                res.append(ResnetBlock(rin + skip, cout, temb))
            blk.resnets = nn.ModuleList(res)
            blk.attns = nn.ModuleList(
                [Transformer2D(cout, heads, cross_attention_dim, transformer_depth) for _ in range(layers_per_block + 1)]
            ) if up_attn[i] else None
            blk.upsample = Upsample(cout) if i < len(boc) - 1 else None
            self.up.append(blk)
            prev_out = cout

        self.norm_out = nn.GroupNorm(32, boc[0], eps=1e-5)
        self.conv_out = nn.Conv2d(boc[0], out_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        b = sample.shape[0]
        t = timestep.float().reshape(-1).expand(b)
        emb = self.time_2(F.silu(self.time_1(sinusoidal(t, self.time_ch))))
        ctx = encoder_hidden_states
        h = self.conv_in(sample)
        skips = [h]
        for blk in self.down:
            for j, res in enumerate(blk.resnets):
                h = res(h, emb)
                if blk.attns is not None:
                    h = blk.attns[j](h, ctx)
                skips.append(h)
            if blk.downsample is not None:
                h = blk.downsample(h)
                skips.append(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, emb), ctx), emb)
        for blk in self.up:
            for j, res in enumerate(blk.resnets):
                h = res(torch.cat([h, skips.pop()], dim=1), emb)
                if blk.attns is not None:
                    h = blk.attns[j](h, ctx)
            if blk.upsample is not None:
                h = blk.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


# ---------------------------------------------------------------------------------------------
# CLIP ViT-L/14 text transformer
# ---------------------------------------------------------------------------------------------
class ClipLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, qkv_bias=True)
        self.layer_norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask=mask)
        h = self.fc1(self.layer_norm2(x))
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return x + self.fc2(h)


class ClipTextModel(nn.Module):
    def __init__(self, vocab=49408, dim=768, layers=12, heads=12, mlp=3072, max_pos=77):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(max_pos, dim)
        self.layers = nn.ModuleList([ClipLayer(dim, heads, mlp) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(dim)
        with torch.no_grad():
            self.token_embedding.weight.normal_(0, 0.02)
            self.position_embedding.weight.normal_(0, 0.01)

    def forward(self, input_ids):
        s = input_ids.shape[1]
        ids = input_ids.long()
        pos = torch.arange(s).unsqueeze(0)
        x = self.token_embedding(ids) + self.position_embedding(pos)
        r = torch.arange(s)
        mask = (r.unsqueeze(0) > r.unsqueeze(1)).float() * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, mask)
        last = self.final_layer_norm(x)
        pooled = last[torch.arange(last.shape[0]), ids.argmax(-1)]
        return last, pooled


# ---------------------------------------------------------------------------------------------
# AutoencoderKL (SD VAE)
# ---------------------------------------------------------------------------------------------
class VaeAttention(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(32, ch, eps=1e-6)
        self.attn = Attention(ch, 1, qkv_bias=True)

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.group_norm(x).reshape(b, c, hh * ww).transpose(1, 2)
        h = self.attn(h).transpose(1, 2).reshape(b, c, hh, ww)
        return x + h


class VaeDownsample(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


SD_VAE = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4)


class VaeEncoder(nn.Module):
    """sample [B,3,H,W] -> moments [B,8,H/8,W/8] (encoder + quant_conv)."""

    def __init__(self, block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4):
        super().__init__()
        boc = list(block_out_channels)
        self.conv_in = nn.Conv2d(3, boc[0], 3, padding=1)
        self.down = nn.ModuleList()
        cin = boc[0]
        for i, cout in enumerate(boc):
            blk = nn.Module()
            blk.resnets = nn.ModuleList(
                [ResnetBlock(cin if j == 0 else cout, cout, None, eps=1e-6) for j in range(layers_per_block)])
            blk.downsample = VaeDownsample(cout) if i < len(boc) - 1 else None
            self.down.append(blk)
            cin = cout
        self.mid_res1 = ResnetBlock(cin, cin, None, eps=1e-6)
        self.mid_attn = VaeAttention(cin)
        self.mid_res2 = ResnetBlock(cin, cin, None, eps=1e-6)
        self.norm_out = nn.GroupNorm(32, cin, eps=1e-6)
        self.conv_out = nn.Conv2d(cin, 2 * latent_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)

    def forward(self, sample):
        h = self.conv_in(sample)
        for blk in self.down:
            for res in blk.resnets:
                h = res(h)
            if blk.downsample is not None:
                h = blk.downsample(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h)))
        return self.quant_conv(self.conv_out(F.silu(self.norm_out(h))))


class VaeDecoder(nn.Module):
    """latent_sample [B,4,h,w] -> sample [B,3,8h,8w] (post_quant_conv + decoder)."""

    def __init__(self, block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4):
        super().__init__()
        rev = list(block_out_channels)[::-1]
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.conv_in = nn.Conv2d(latent_channels, rev[0], 3, padding=1)
        self.mid_res1 = ResnetBlock(rev[0], rev[0], None, eps=1e-6)
        self.mid_attn = VaeAttention(rev[0])
        self.mid_res2 = ResnetBlock(rev[0], rev[0], None, eps=1e-6)
        self.up = nn.ModuleList()
        cin = rev[0]
        for i, cout in enumerate(rev):
            blk = nn.Module()
            blk.resnets = nn.ModuleList(
                [ResnetBlock(cin if j == 0 else cout, cout, None, eps=1e-6) for j in range(layers_per_block + 1)])
            blk.upsample = Upsample(cout) if i < len(rev) - 1 else None
            self.up.append(blk)
            cin = cout
        self.norm_out = nn.GroupNorm(32, cin, eps=1e-6)
        self.conv_out = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, latent_sample):
        h = self.conv_in(self.post_quant_conv(latent_sample))
        h = self.mid_res2(self.mid_attn(self.mid_res1(h)))
        for blk in self.up:
            for res in blk.resnets:
                h = res(h)
            if blk.upsample is not None:
                h = blk.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
