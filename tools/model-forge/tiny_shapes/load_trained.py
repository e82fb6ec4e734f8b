"""Load the trained tiny-shapes components (EMA weights, as exported) and a sampler from the checkpoints."""
import os

import torch

from clip_bpe import ClipTokenizer
from common import CKPT_DIR, to_uint8
from diffusion import sample_ddim
from onnx_fp16_storage import round_weights_to_fp16
from text_encoder import TextEncoder
from unet import UNet
from vae import AutoencoderKL


class TrainedModel:
    def __init__(self, ckpt_dir=CKPT_DIR):
        ck = torch.load(os.path.join(ckpt_dir, "unet.pt"))
        tcfg, ucfg = ck["te_config"], ck["unet_config"]
        self.step = ck["step"]
        self.scaling = ck["scaling_factor"]
        self.te = TextEncoder(tcfg["vocab_size"], tcfg["hidden_size"], tcfg["num_hidden_layers"],
                              tcfg["num_attention_heads"])
        self.te.load_state_dict(ck["te_ema"])
        self.unet = UNet(ucfg["cross_attention_dim"], tuple(ucfg["block_out_channels"]), ucfg["attention_head_dim"])
        self.unet.load_state_dict(ck["unet_ema"])
        self.vae = AutoencoderKL()
        self.vae.load_state_dict(torch.load(os.path.join(ckpt_dir, "vae.pt"))["model"])
        for m in (self.te, self.unet, self.vae):
            m.eval()
            round_weights_to_fp16(m)  # exactly the weights the ONNX export ships
        tok_dir = os.path.join(ckpt_dir, "tokenizer")
        self.tok = ClipTokenizer.from_files(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt"))

    @torch.no_grad()
    def generate(self, prompts, seed=0, steps=20, guidance=7.0, batch=64):
        """uint8 [N,64,64,3] images for the prompts (DDIM, classifier-free guidance)."""
        out = []
        g = torch.Generator().manual_seed(seed)
        for i in range(0, len(prompts), batch):
            ps = prompts[i:i + batch]
            cond, _ = self.te(torch.tensor([self.tok(p) for p in ps]))
            uncond, _ = self.te(torch.tensor([self.tok("")] * len(ps)))
            lat = sample_ddim(self.unet, cond, uncond, (len(ps), 4, 8, 8), steps, guidance, g)
            out.append(to_uint8(self.vae.decoder(lat / self.scaling)))
        import numpy as np
        return np.concatenate(out)
