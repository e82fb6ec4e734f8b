"""Tiny KL autoencoder in Stable Diffusion's layout: 64x64x3 image <-> 8x8x4 latent (8x downsampling).

Fully convolutional (no attention), so it can be trained on crops and runs at any multiple of 8.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

LATENT_CHANNELS = 4
DOWNSAMPLE = 8


def group_norm(ch):
    return nn.GroupNorm(min(8, ch // 4), ch, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = group_norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = group_norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    # channels per resolution: 64 -> 32 -> 16 -> 8
    def __init__(self, chans=(24, 48, 96, 96)):
        super().__init__()
        self.conv_in = nn.Conv2d(3, chans[0], 3, padding=1)
        blocks = []
        for i in range(3):
            blocks += [ResBlock(chans[i], chans[i]), nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1)]
        blocks += [ResBlock(chans[3], chans[3]), ResBlock(chans[3], chans[3])]
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = group_norm(chans[3])
        self.conv_out = nn.Conv2d(chans[3], 2 * LATENT_CHANNELS, 3, padding=1)

    def forward(self, x):
        h = self.blocks(self.conv_in(x))
        moments = self.conv_out(F.silu(self.norm_out(h)))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class Decoder(nn.Module):
    # channels per resolution: 8 -> 16 -> 32 -> 64
    def __init__(self, chans=(128, 96, 48, 24)):
        super().__init__()
        self.conv_in = nn.Conv2d(LATENT_CHANNELS, chans[0], 3, padding=1)
        blocks = [ResBlock(chans[0], chans[0]), ResBlock(chans[0], chans[0])]
        for i in range(3):
            blocks += [nn.Upsample(scale_factor=2.0, mode="nearest"),
                       nn.Conv2d(chans[i], chans[i + 1], 3, padding=1),
                       ResBlock(chans[i + 1], chans[i + 1])]
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = group_norm(chans[3])
        self.conv_out = nn.Conv2d(chans[3], 3, 3, padding=1)

    def forward(self, z):
        return self.conv_out(F.silu(self.norm_out(self.blocks(self.conv_in(z)))))


class AutoencoderKL(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.decoder = Decoder()

    def forward(self, x, sample=True):
        mean, logvar = self.encoder(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.decoder(z), mean, logvar
