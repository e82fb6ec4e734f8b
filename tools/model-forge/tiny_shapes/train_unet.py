"""Train the text encoder + UNet on precomputed VAE latents of the shapes dataset (resumable).

The text encoder is trained jointly for the first --te-steps steps, then frozen; from then on the
hidden states of every training caption are computed once and looked up, which makes each step
roughly twice as fast on CPU. Checkpoints, logs and previews go to CKPT_DIR (outside the repo).

Usage: /usr/bin/python3 train_unet.py --steps 6000 --te-steps 2500
"""
import argparse
import copy
import os
import time

import numpy as np
import torch

from adherence import score
from clip_bpe import ClipTokenizer, learn_bpe, save_vocab
from common import CKPT_DIR, UNET_SEED, dataset_cache, save_atomic, set_threads, to_model_range, to_uint8
from dataset import CAPTION_WEIGHTS, COLOURS, SHAPES, caption_corpus, caption_variants
from diffusion import alphas_cumprod, sample_ddim
from png_io import tile, write_png
from text_encoder import TextEncoder
from unet import UNet
from vae import AutoencoderKL

CAPTION_DROPOUT = 0.1
MIN_SNR_GAMMA = 5.0  # min-SNR loss weighting: faster convergence for small diffusion models
EMA_DECAY = 0.999


def load_vae():
    vae = AutoencoderKL()
    vae.load_state_dict(torch.load(os.path.join(CKPT_DIR, "vae.pt"))["model"])
    return vae.eval()


def latents_cache(vae):
    """Encoder mean/logvar of every dataset image, plus the SD-style scaling factor 1/std."""
    path = os.path.join(CKPT_DIR, "latents.pt")
    if os.path.exists(path):
        return torch.load(path)
    images, labels = dataset_cache()
    means, logvars = [], []
    with torch.no_grad():
        for i in range(0, len(images), 500):
            m, lv = vae.encoder(to_model_range(images[i:i + 500]))
            means.append(m); logvars.append(lv)
    mean, logvar = torch.cat(means), torch.cat(logvars)
    z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
    cache = {"mean": mean, "logvar": logvar, "labels": torch.from_numpy(labels),
             "scaling_factor": float(1.0 / z.std())}
    save_atomic(cache, path)
    return cache


def build_tokenizer():
    vocab, merges = learn_bpe(caption_corpus())
    tok_dir = os.path.join(CKPT_DIR, "tokenizer")
    save_vocab(vocab, merges, tok_dir)
    return ClipTokenizer(vocab, merges)


def caption_table(tok):
    """All training captions: index combo*4+variant for (shape, fg, bg) combos, last = ""."""
    caps = caption_corpus() + [""]
    ids = torch.tensor([tok(c) for c in caps], dtype=torch.long)
    return caps, ids


def combo_index(shape_i, fg_i, bg_i):
    # caption_corpus order: shape, fg, bg (bg != fg) -> 7 backgrounds per fg
    return (shape_i * len(COLOURS) + fg_i) * (len(COLOURS) - 1) + (bg_i if bg_i < fg_i else bg_i - 1)


def eval_prompts(n=48, seed=7):
    """Fixed evaluation prompts: 3/4 long form, 1/4 short form (no background named)."""
    rng = np.random.default_rng(seed)
    prompts, labels = [], []
    for i in range(n):
        s, f = SHAPES[rng.integers(4)], COLOURS[rng.integers(8)]
        b = COLOURS[rng.integers(8)]
        while b == f:
            b = COLOURS[rng.integers(8)]
        if i % 4 == 3:
            prompts.append(f"{f} {s}"); labels.append((s, f, None))
        else:
            prompts.append(caption_variants(s, f, b)[0]); labels.append((s, f, b))
    return prompts, labels


@torch.no_grad()
def evaluate(te, unet, vae, tok, scaling, prompts, labels, guidance=6.0, seed=0, preview=None):
    te.eval(); unet.eval()
    cond, _ = te(torch.tensor([tok(p) for p in prompts]))
    uncond, _ = te(torch.tensor([tok("")] * len(prompts)))
    g = torch.Generator().manual_seed(seed)
    lat = sample_ddim(unet, cond, uncond, (len(prompts), 4, 8, 8), steps=20, guidance=guidance, generator=g)
    imgs = to_uint8(vae.decoder(lat / scaling))
    if preview:
        write_png(preview, tile(imgs, 8))
    return score(imgs, labels)


def ema_update(ema, model, decay):
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.mul_(decay).add_(pm, alpha=1 - decay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--te-steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--eval-every", type=int, default=500)
    args = ap.parse_args()
    set_threads()
    torch.manual_seed(UNET_SEED)

    vae = load_vae()
    lat = latents_cache(vae)
    scaling = lat["scaling_factor"]
    labels = lat["labels"]
    n_images = len(labels)
    combo = torch.tensor([combo_index(*l.tolist()) for l in labels])
    tok = build_tokenizer()
    caps, cap_ids = caption_table(tok)
    empty_idx = len(caps) - 1
    print(f"scaling_factor {scaling:.4f} vocab {len(tok.encoder)} captions {len(caps)}", flush=True)

    te = TextEncoder(len(tok.encoder))
    unet = UNet(context_dim=te.config["hidden_size"])
    te_ema, unet_ema = copy.deepcopy(te), copy.deepcopy(unet)
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    path = os.path.join(CKPT_DIR, "unet.pt")
    step = 0
    if os.path.exists(path):
        ck = torch.load(path)
        for m, k in [(te, "te"), (unet, "unet"), (te_ema, "te_ema"), (unet_ema, "unet_ema")]:
            m.load_state_dict(ck[k])
        opt.load_state_dict(ck["opt"]); step = ck["step"]
        print(f"resumed at step {step}", flush=True)
    print(f"params: text encoder {sum(p.numel() for p in te.parameters())}, "
          f"unet {sum(p.numel() for p in unet.parameters())}", flush=True)

    ac = alphas_cumprod()
    snr = ac / (1 - ac)
    loss_w = torch.clamp(snr, max=MIN_SNR_GAMMA) / snr
    variant_p = torch.tensor(CAPTION_WEIGHTS)
    prompts, eval_labels = eval_prompts()
    frozen_ctx = None
    t0, t_log = time.time(), time.time()
    while step < args.steps:
        g = torch.Generator().manual_seed(UNET_SEED * 1_000_003 + step)  # resumable randomness
        idx = torch.randint(0, n_images, (args.batch,), generator=g)
        variant = torch.multinomial(variant_p, args.batch, replacement=True, generator=g)
        cap = combo[idx] * 4 + variant
        cap = torch.where(torch.rand(args.batch, generator=g) < CAPTION_DROPOUT, torch.full_like(cap, empty_idx), cap)
        m, lv = lat["mean"][idx], lat["logvar"][idx]
        z0 = (m + torch.randn(m.shape, generator=g) * (0.5 * lv).exp()) * scaling
        t = torch.randint(0, 1000, (args.batch,), generator=g)
        noise = torch.randn(z0.shape, generator=g)
        a = ac[t][:, None, None, None]
        zt = a.sqrt() * z0 + (1 - a).sqrt() * noise

        train_te = step < args.te_steps
        if train_te:
            ctx, _ = te(cap_ids[cap])
        else:
            if frozen_ctx is None:
                te.eval()
                with torch.no_grad():
                    frozen_ctx, _ = te(cap_ids)
                te_ema.load_state_dict(te.state_dict())  # the frozen encoder is the one to ship
                for p in te.parameters():
                    p.requires_grad_(False)
            ctx = frozen_ctx[cap]
        te.train(train_te); unet.train()
        pred = unet(zt, t.float(), ctx)
        loss = ((pred - noise) ** 2).mean(dim=(1, 2, 3))
        loss = (loss * loss_w[t]).mean()
        lr = args.lr * min(1.0, (step + 1) / 200)
        for gr in opt.param_groups:
            gr["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(EMA_DECAY, (1 + step) / (10 + step))
        ema_update(unet_ema, unet, decay)
        if train_te:
            ema_update(te_ema, te, decay)

        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} te {'train' if train_te else 'frozen'} "
                  f"{(time.time() - t_log) / 50:.2f}s/step total {time.time() - t0:.0f}s", flush=True)
            t_log = time.time()
        if step % 250 == 0 or step == args.steps:
            save_atomic({"te": te.state_dict(), "unet": unet.state_dict(), "te_ema": te_ema.state_dict(),
                         "unet_ema": unet_ema.state_dict(), "opt": opt.state_dict(), "step": step,
                         "scaling_factor": scaling, "te_config": te.config, "unet_config": unet.config}, path)
        if step % args.eval_every == 0 or step == args.steps:
            te_eval = te_ema if train_te else te
            s = evaluate(te_eval, unet_ema, vae, tok, scaling, prompts, eval_labels,
                         preview=os.path.join(CKPT_DIR, f"sample_{step:05d}.png"))
            print(f"EVAL step {step} ema: fg {s['fg']:.2f} bg {s['bg']:.2f} shape {s['shape']:.2f} "
                  f"all {s['all']:.2f}", flush=True)


if __name__ == "__main__":
    main()
