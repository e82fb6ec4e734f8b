"""Tiny conditional UNet (epsilon prediction) with cross-attention on text hidden states.

Two resolutions (8x8 and 4x4 for 64x64 images) with a transformer block (self-attn, cross-attn,
feed-forward) at every level, like SD's UNet but much smaller. Fully convolutional apart from the
attention, which works on any number of tokens, so spatial sizes stay dynamic.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from attention import Attention


def group_norm(ch):
    return nn.GroupNorm(min(32, ch // 4), ch, eps=1e-5)


def timestep_embedding(t, dim):
    """Sinusoidal embedding like diffusers (flip_sin_to_cos=True, freq_shift=0): [cos, sin]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb_dim, cout)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class TransformerBlock(nn.Module):
    def __init__(self, ch, context_dim, heads):
        super().__init__()
        self.norm = group_norm(ch)
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.ln1 = nn.LayerNorm(ch)
        self.self_attn = Attention(ch, heads)
        self.ln2 = nn.LayerNorm(ch)
        self.cross_attn = Attention(ch, heads, context_dim)
        self.ln3 = nn.LayerNorm(ch)
        self.ff = nn.Sequential(nn.Linear(ch, ch * 4), nn.GELU(), nn.Linear(ch * 4, ch))
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x, context):
        h = self.proj_in(self.norm(x))
        tokens = h.flatten(2).transpose(1, 2)            # [B, H*W, C]
        tokens = tokens + self.self_attn(self.ln1(tokens))
        tokens = tokens + self.cross_attn(self.ln2(tokens), context)
        tokens = tokens + self.ff(self.ln3(tokens))
        h = tokens.transpose(1, 2).reshape(h.shape)
        return x + self.proj_out(h)


class UNet(nn.Module):
    def __init__(self, context_dim, chans=(64, 128), heads=4, in_channels=4):
        super().__init__()
        c1, c2 = chans
        temb = c1 * 4
        self.config = dict(sample_size=8, in_channels=in_channels, out_channels=in_channels,
                           block_out_channels=list(chans), cross_attention_dim=context_dim,
                           attention_head_dim=heads, layers_per_block=1)
        self.c1 = c1
        self.time_mlp = nn.Sequential(nn.Linear(c1, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(in_channels, c1, 3, padding=1)
        self.down0_res = ResBlock(c1, c1, temb)
        self.down0_attn = TransformerBlock(c1, context_dim, heads)
        self.downsample = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down1_res = ResBlock(c1, c2, temb)
        self.down1_attn = TransformerBlock(c2, context_dim, heads)
        self.mid_res1 = ResBlock(c2, c2, temb)
        self.mid_attn = TransformerBlock(c2, context_dim, heads)
        self.mid_res2 = ResBlock(c2, c2, temb)
        self.up1_res = ResBlock(c2 + c2, c2, temb)
        self.up1_attn = TransformerBlock(c2, context_dim, heads)
        self.upsample_conv = nn.Conv2d(c2, c2, 3, padding=1)
        self.up0_res = ResBlock(c2 + c1, c1, temb)
        self.up0_attn = TransformerBlock(c1, context_dim, heads)
        self.norm_out = group_norm(c1)
        self.conv_out = nn.Conv2d(c1, in_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        temb = self.time_mlp(timestep_embedding(timestep, self.c1))
        ctx = encoder_hidden_states
        h = self.conv_in(sample)
        h = self.down0_attn(self.down0_res(h, temb), ctx)
        s0 = h
        h = self.down1_attn(self.down1_res(self.downsample(h), temb), ctx)
        s1 = h
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, temb), ctx), temb)
        h = self.up1_attn(self.up1_res(torch.cat([h, s1], 1), temb), ctx)
        h = self.upsample_conv(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = self.up0_attn(self.up0_res(torch.cat([h, s0], 1), temb), ctx)
        return self.conv_out(F.silu(self.norm_out(h)))
