"""Step and guidance distillation of tiny-shapes into a LoRA that keeps the teacher's pictures (CPU).

The LCM-LoRA (train_lcm_lora.py) makes a few-step model that draws its own picture of the prompt:
its multi-step sampler injects fresh noise, and it was distilled over a range of guidance scales, so
its images share the prompt but not the pixels of the model's default output (SSIM ~0.6). A person
who asks for "the same pictures, faster" needs a student that follows the teacher's own sampling
path. This is progressive distillation (Salimans & Ho 2022) collapsed into one stage, optionally
with the teacher's classifier-free guidance folded in (Meng et al. 2023, "On distillation of guided
diffusion models"; --student-guidance 1). Folding it in halves the UNet evaluations but the LoRA
imitates the guided prediction 10-20x less accurately than the guided teacher itself does at the
same steps, so the shipped student keeps the guidance (--student-guidance 7.5) and only learns the
longer steps:

- teacher: the shipped UNet and the model's default sampling, exactly as the studio runs it:
  DDIM (eta 0, 'leading' spacing, steps_offset 1, set_alpha_to_one false) at --teacher-steps with
  guidance --guidance (eps = uncond + g * (cond - uncond), uncond = the empty prompt);
- student: the teacher + a LoRA (kohya layout), sampled with plain DDIM at --student-steps and
  guidance --student-guidance (1: one UNet evaluation per step instead of two); --align-start
  shifts its grid (steps_offset) to start at the teacher's first timestep;
- the teacher's trajectories from random noise are recorded once at every state, and each student
  step j is trained so that ONE DDIM step from the teacher's state at t_j lands on the teacher's
  state at t_{j+1} (with --on-path, the teacher's path at exactly the student's timesteps; without,
  the nearest recorded state; the first is the noise itself, the last the teacher's final latent). A DDIM step is linear in the
  predicted noise, so that target is an exact noise target:
      x_next = sqrt(a_n / a_t) x_t + c eps,  c = sqrt(1 - a_n) - sqrt(a_n (1 - a_t) / a_t)
      eps* = (x_next_teacher - sqrt(a_n / a_t) x_t) / c
  and the loss is (c * (eps - eps*))^2: the error of the state the step lands on, so each step is
  weighted by how far it moves the latent;
- a second phase (--rollout-steps) trains through the student's own chain of K steps from the noise
  to the final latent (the error the person sees), because at inference each step starts from the
  student's previous output, not the teacher's;
- AdamW on the LoRA only, cosine-decayed learning rate (the LCM run drifted at a constant rate).

Held-out trajectories are decoded and compared with the teacher's pictures (PSNR, SSIM on grey) as
it trains. The LoRA is saved in kohya's layout with its card in the safetensors metadata.

    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp FORGE_THREADS=2 \
      /usr/bin/python3 tools/model-forge/tiny_shapes/train_step_distill_lora.py \
      --student-steps 10 --student-guidance 7.5 --on-path \
      --timesteps 961,921,881,841,761,681,561,401,241,81 \
      --out resources/loras/tiny-shapes-distill10-cfg.safetensors
(the shipped file's run, and the earlier students', are in tools/model-forge/README.md)
"""
import argparse
import json
import math
import os
import random
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

from clip_bpe import ClipTokenizer
from common import CKPT_DIR, save_atomic, set_threads
from dataset import CAPTION_WEIGHTS, COLOURS, SHAPES, caption_variants
from diffusion import alphas_cumprod, ddim_timesteps
from onnx_weights import load_into
from text_encoder import TextEncoder
from train_lcm_lora import add_lora, lora_state, save_safetensors
from unet import UNet
from vae import Decoder

MODEL_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "resources", "models", "tiny-shapes")
OUT_DIR = os.path.join(CKPT_DIR, "step-distill")
SEED = 23
LATENT = (4, 8, 8)


def load_models():
    scaling = json.load(open(os.path.join(MODEL_DIR, "vae_decoder", "config.json")))["scaling_factor"]
    tok = ClipTokenizer.from_files(os.path.join(MODEL_DIR, "tokenizer", "vocab.json"),
                                   os.path.join(MODEL_DIR, "tokenizer", "merges.txt"))
    te = TextEncoder(len(tok.encoder))
    load_into(te, os.path.join(MODEL_DIR, "text_encoder", "model.onnx"), "te.")
    unet = UNet(context_dim=te.config["hidden_size"])
    load_into(unet, os.path.join(MODEL_DIR, "unet", "model.onnx"))
    dec = Decoder()
    load_into(dec, os.path.join(MODEL_DIR, "vae_decoder", "model.onnx"))
    for m in (te, unet, dec):
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    return tok, te, unet, dec, scaling


def random_prompts(n, rng):
    """Prompts of the shapes vocabulary in every caption form the model was trained on."""
    out = []
    for _ in range(n):
        shape = rng.choice(SHAPES)
        fg = rng.choice(COLOURS)
        bg = rng.choice([c for c in COLOURS if c != fg])
        out.append(rng.choices(caption_variants(shape, fg, bg), weights=CAPTION_WEIGHTS)[0])
    return out


def embed(te, tok, prompts):
    with torch.no_grad():
        return torch.cat([te(torch.tensor([tok(p) for p in prompts[i:i + 512]]))[0]
                          for i in range(0, len(prompts), 512)])


def aligned_offset(teacher_steps, student_steps):
    """The DDIM steps_offset that starts the student where the teacher starts. Both begin from the
    same noise, but with 'leading' spacing and offset 1 the teacher calls it t=961 (25 steps) and an
    8-step student t=876: the student would then read the noise as less noisy than the teacher did.
    Shifting the student's grid so its first timestep is the teacher's removes that mismatch."""
    return ddim_timesteps(teacher_steps)[0] - (student_steps - 1) * (1000 // student_steps)


def plan(teacher_steps, student_steps, offset=1, timesteps=None):
    """Student timesteps, their alphas, and which teacher state each student state stands for.
    `timesteps` replaces the DDIM grid with an explicit one (descending); each step then goes to the
    next listed timestep, the last to alpha_cumprod[0], as the engine's DDIM does with the card's
    `timesteps` override."""
    ac = alphas_cumprod()
    t_teacher = ddim_timesteps(teacher_steps)
    t_student = list(timesteps) if timesteps else ddim_timesteps(student_steps, offset)
    # teacher state i is the input of teacher step i (0 = the noise); state teacher_steps = final.
    idx = [0]
    for t in t_student[1:]:
        idx.append(min(range(teacher_steps), key=lambda i: (abs(t_teacher[i] - t), i)))
    idx.append(teacher_steps)
    a_t = torch.stack([ac[t] for t in t_student])
    a_n = torch.stack([ac[t] for t in t_student[1:]] + [ac[0]])  # set_alpha_to_one = False
    return t_teacher, t_student, idx, a_t, a_n


@torch.no_grad()
def teacher_states(unet, ctx, uncond, noise, teacher_steps, guidance, keep):
    """The teacher's DDIM + CFG trajectory from `noise`, returning the states listed in `keep`."""
    ac = alphas_cumprod()
    ratio = 1000 // teacher_steps
    x = noise.clone()
    states = {0: x.clone()}
    b = len(x)
    ctx2 = torch.cat([uncond.expand(b, -1, -1), ctx])
    for i, t in enumerate(ddim_timesteps(teacher_steps)):
        eps_u, eps_c = unet(torch.cat([x, x]), torch.full((2 * b,), float(t)), ctx2).chunk(2)
        eps = eps_u + guidance * (eps_c - eps_u)
        a, prev = ac[t], t - ratio
        a_p = ac[prev] if prev >= 0 else ac[0]
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_p.sqrt() * x0 + (1 - a_p).sqrt() * eps
        if i + 1 in keep:
            states[i + 1] = x.clone()
    return torch.stack([states[k] for k in keep], 1)


def on_teacher_path(all_states, teacher_steps, t_student):
    """The teacher's states at the student's own timesteps. Within one teacher step DDIM moves along
    x(t) = sqrt(a(t)) x0 + sqrt(1 - a(t)) eps with that step's x0 and eps, both exactly recoverable
    from the two recorded states around it, so the state at any t between them is known without
    running the teacher again. Training on these (rather than the nearest recorded state) gives the
    student inputs whose noise level matches the timestep it is told; the first input stays the
    noise itself, as in the engine."""
    ac = alphas_cumprod()
    t_teacher = ddim_timesteps(teacher_steps)
    ratio = 1000 // teacher_steps
    out = [all_states[:, 0]]
    for t in t_student[1:]:
        i = max(k for k in range(teacher_steps) if t_teacher[k] >= t)
        a_i = ac[t_teacher[i]]
        prev = t_teacher[i] - ratio
        a_p = ac[prev] if prev >= 0 else ac[0]
        x, x_next = all_states[:, i], all_states[:, i + 1]
        c = (1 - a_p).sqrt() - (a_p * (1 - a_i) / a_i).sqrt()
        eps = (x_next - (a_p / a_i).sqrt() * x) / c
        x0 = (x - (1 - a_i).sqrt() * eps) / a_i.sqrt()
        out.append(ac[t].sqrt() * x0 + (1 - ac[t]).sqrt() * eps)
    out.append(all_states[:, teacher_steps])
    return torch.stack(out, 1)


def make_trajectories(args, tok, te, unet, path, count=None, seed=SEED):
    """Every state of the teacher's trajectories (so any student step count can reuse them)."""
    if os.path.exists(path):
        return torch.load(path)
    count = count or args.trajectories
    keep = list(range(args.teacher_steps + 1))
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    prompts = random_prompts(count, rng)
    ctx = embed(te, tok, prompts)
    uncond = embed(te, tok, [""])
    noise = torch.randn((count, *LATENT), generator=g)
    chunks, t0 = [], time.time()
    for i in range(0, count, 256):
        chunks.append(teacher_states(unet, ctx[i:i + 256], uncond, noise[i:i + 256], args.teacher_steps,
                                     args.guidance, keep))
        print(f"teacher trajectories {i + len(chunks[-1])}/{count} "
              f"({time.time() - t0:.0f}s)", flush=True)
    data = {"states": torch.cat(chunks), "ctx": ctx, "prompts": prompts}
    save_atomic(data, path)
    return data


def load_lora(wrapped, path):
    """A kohya-layout LoRA saved by this script back into the wrapped modules."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, base = json.loads(raw[8:8 + n]), 8 + n

    def tensor(key):
        a, b = header[key]["data_offsets"]
        return torch.from_numpy(np.frombuffer(raw[base + a:base + b], dtype="<f4").reshape(header[key]["shape"]).copy())

    for module_path, lora in wrapped.items():
        key = "lora_unet_" + module_path.replace(".", "_")
        down, up = tensor(key + ".lora_down.weight"), tensor(key + ".lora_up.weight")
        # A lower-rank start fills the first ranks (same alpha/rank scale); the rest start as a fresh
        # LoRA's do (down random, up zero), so the student starts exactly where that LoRA was.
        r = down.shape[0]
        lora.down.weight.data[:r].copy_(down)
        lora.up.weight.data.zero_()
        lora.up.weight.data[:, :r].copy_(up)


def ddim_step(x, eps, a_t, a_n):
    x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    return a_n.sqrt() * x0 + (1 - a_n).sqrt() * eps


def student_eps(unet, x, t, ctx, uncond, guidance):
    """The student's noise prediction as the engine computes it: one UNet evaluation at guidance 1,
    else classifier-free guidance over the empty prompt (two evaluations, batched)."""
    b = len(x)
    if guidance == 1:
        return unet(x, t, ctx)
    eps_u, eps_c = unet(torch.cat([x, x]), torch.cat([t, t]), torch.cat([uncond.expand(b, -1, -1), ctx])).chunk(2)
    return eps_u + guidance * (eps_c - eps_u)


def student_sample(unet, x, ctx, t_student, a_t, a_n, uncond, guidance):
    for j, t in enumerate(t_student):
        eps = student_eps(unet, x, torch.full((len(x),), float(t)), ctx, uncond, guidance)
        x = ddim_step(x, eps, a_t[j], a_n[j])
    return x


def grey_ssim(a, b):
    """Gaussian-window SSIM (window 11, sigma 1.5) of uint8-range grey images, as the studio's judge."""
    w = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    w = (w / w.sum())
    k = (w[:, None] * w[None, :])[None, None]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = F.conv2d(a, k), F.conv2d(b, k)
    saa = F.conv2d(a * a, k) - mu_a ** 2
    sbb = F.conv2d(b * b, k) - mu_b ** 2
    sab = F.conv2d(a * b, k) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return m.flatten(1).mean(1)


@torch.no_grad()
def to_pixels(dec, z, scaling):
    img = (dec(z / scaling) / 2 + 0.5).clamp(0, 1)
    return (img * 255).round()


@torch.no_grad()
def evaluate(unet, dec, scaling, held, t_student, a_t, a_n, uncond, guidance):
    states, ctx = held
    final = student_sample(unet, states[:, 0], ctx, t_student, a_t, a_n, uncond, guidance)
    ref, got = to_pixels(dec, states[:, -1], scaling), to_pixels(dec, final, scaling)
    mse = ((ref - got) ** 2).flatten(1).mean(1)
    psnr = 10 * torch.log10(255 ** 2 / mse.clamp(min=1e-10))
    grey = torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]
    ssim = grey_ssim((ref * grey).sum(1, keepdim=True), (got * grey).sum(1, keepdim=True))
    return psnr, ssim


def summary(psnr, ssim):
    q = lambda v, p: float(torch.quantile(v, p))
    return (f"PSNR min {psnr.min():.1f} p5 {q(psnr, .05):.1f} median {psnr.median():.1f} dB; "
            f"SSIM min {ssim.min():.3f} p5 {q(ssim, .05):.3f} median {ssim.median():.3f}; "
            f"share PSNR>25 & SSIM>0.85 {float(((psnr > 25) & (ssim > 0.85)).float().mean()):.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher-steps", type=int, default=25)
    ap.add_argument("--student-steps", type=int, default=8)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--student-guidance", type=float, default=1.0,
                    help="1: guidance folded into the student (one UNet evaluation a step); the teacher's "
                         "value: the student keeps classifier-free guidance and only learns the longer steps")
    ap.add_argument("--trajectories", type=int, default=4096)
    ap.add_argument("--held-out", type=int, default=256)
    ap.add_argument("--extra-trajectories", type=int, default=0,
                    help="record this many more teacher trajectories (another seed) for training only")
    ap.add_argument("--steps", type=int, default=1500, help="teacher-forced steps")
    ap.add_argument("--rollout-steps", type=int, default=300, help="steps through the student's own chain")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rollout-batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--rollout-lr", type=float, default=3e-4)
    ap.add_argument("--init", default="", help="start from this LoRA (kohya safetensors, same rank)")
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--out", default="resources/loras/tiny-shapes-distill10-cfg.safetensors")
    ap.add_argument("--align-start", action="store_true",
                    help="shift the student's DDIM grid (steps_offset) so it starts at the teacher's first timestep")
    ap.add_argument("--timesteps", default="",
                    help="an explicit descending DDIM grid (comma-separated), e.g. denser where the layout "
                         "forms; needs --on-path, and the card must carry it as schedulerOverrides.timesteps")
    ap.add_argument("--step-weights", default="",
                    help="how often each student step is drawn in the per-step phase (comma-separated, one "
                         "per step; default uniform), e.g. more where replacing a step by the teacher's "
                         "helps the final picture most")
    ap.add_argument("--on-path", action="store_true",
                    help="train on the teacher's path at the student's timesteps, not the nearest recorded state")
    ap.add_argument("--only-trajectories", action="store_true", help="record the teacher and stop")
    args = ap.parse_args()
    set_threads()
    torch.manual_seed(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    tok, te, unet, dec, scaling = load_models()
    offset = aligned_offset(args.teacher_steps, args.student_steps) if args.align_start else 1
    timesteps = [int(v) for v in args.timesteps.split(",")] if args.timesteps else None
    if timesteps:
        if not args.on_path or len(timesteps) != args.student_steps or timesteps != sorted(set(timesteps), reverse=True):
            raise SystemExit("--timesteps needs --on-path and --student-steps distinct descending values")
    t_teacher, t_student, idx, a_t, a_n = plan(args.teacher_steps, args.student_steps, offset, timesteps)
    print(f"student timesteps {t_student}; teacher states {idx} (teacher t "
          f"{[t_teacher[i] if i < args.teacher_steps else 'final' for i in idx]})", flush=True)
    # A recording of just this student's states (an earlier run's) serves as well as all of them.
    only_these = os.path.join(
        OUT_DIR, f"traj_{args.teacher_steps}_{args.guidance}_{args.student_steps}_{args.trajectories}.pt")
    data = torch.load(only_these) if os.path.exists(only_these) else None
    if args.on_path:
        data = make_trajectories(args, tok, te, unet, os.path.join(
            OUT_DIR, f"traj_{args.teacher_steps}_{args.guidance}_{args.trajectories}.pt"))
        states, ctx = on_teacher_path(data["states"], args.teacher_steps, t_student), data["ctx"]
        if args.extra_trajectories:
            # More training data from other noise and prompts, put in front: the held-out ones stay
            # the last of the first recording, so figures compare with runs without it.
            extra = make_trajectories(args, tok, te, unet, os.path.join(
                OUT_DIR, f"traj_{args.teacher_steps}_{args.guidance}_{args.extra_trajectories}_seed{SEED + 100}.pt"),
                args.extra_trajectories, SEED + 100)
            states = torch.cat([on_teacher_path(extra["states"], args.teacher_steps, t_student), states])
            ctx = torch.cat([extra["ctx"], ctx])
    elif data is not None and data["idx"] == idx:
        states, ctx = data["states"], data["ctx"]
    else:
        data = make_trajectories(args, tok, te, unet, os.path.join(
            OUT_DIR, f"traj_{args.teacher_steps}_{args.guidance}_{args.trajectories}.pt"))
        states, ctx = data["states"][:, idx], data["ctx"]
    if args.only_trajectories:
        return
    uncond = embed(te, tok, [""])
    n_train = len(states) - args.held_out
    held = (states[n_train:], ctx[n_train:])
    print(f"teacher vs student before training: {summary(*evaluate(unet, dec, scaling, held, t_student, a_t, a_n, uncond, args.student_guidance))}",
          flush=True)

    wrapped = add_lora(unet, args.rank, args.alpha)
    params = [p for m in wrapped.values() for p in (m.down.weight, m.up.weight)]
    for p in params:
        p.requires_grad_(True)
    print(f"LoRA on {len(wrapped)} modules, {sum(p.numel() for p in params)} parameters", flush=True)
    if args.init:
        load_lora(wrapped, args.init)
        print(f"started from {args.init}", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    total = args.steps + args.rollout_steps

    def lr_factor(s):
        # Each phase decays from its own rate to zero (cosine): the chain phase is not left with the
        # tail of the first phase's schedule.
        if s < args.steps:
            return 0.5 * (1 + math.cos(math.pi * s / args.steps))
        r = (s - args.steps) / max(1, args.rollout_steps)
        return args.rollout_lr / args.lr * 0.5 * (1 + math.cos(math.pi * min(r, 1.0)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    k = args.student_steps
    step_weights = torch.tensor([float(v) for v in args.step_weights.split(",")]) if args.step_weights else None
    if step_weights is not None and len(step_weights) != k:
        raise SystemExit("--step-weights needs one weight per student step")
    coef = (1 - a_n).sqrt() - (a_n * (1 - a_t) / a_t).sqrt()
    g = torch.Generator().manual_seed(SEED + 1)
    t0, losses = time.time(), []
    for step in range(total):
        if step < args.steps:
            n = torch.randint(0, n_train, (args.batch,), generator=g)
            j = (torch.multinomial(step_weights, args.batch, replacement=True, generator=g)
                 if step_weights is not None else torch.randint(0, k, (args.batch,), generator=g))
            x = states[n, j]
            target = states[n, j + 1]
            at, an = a_t[j][:, None, None, None], a_n[j][:, None, None, None]
            t_in = torch.tensor([float(t_student[i]) for i in j.tolist()])
            eps = student_eps(unet, x, t_in, ctx[n], uncond, args.student_guidance)
            landed = (an / at).sqrt() * x + coef[j][:, None, None, None] * eps
            loss = ((landed - target) ** 2).mean()
        else:
            n = torch.randint(0, n_train, (args.rollout_batch,), generator=g)
            x = states[n, 0]
            loss = 0.0
            for jj, t in enumerate(t_student):
                eps = student_eps(unet, x, torch.full((len(x),), float(t)), ctx[n], uncond,
                                  args.student_guidance)
                x = ddim_step(x, eps, a_t[jj], a_n[jj])
                # every state the chain passes, weighted like the teacher-forced loss; the final one most
                loss = loss + ((x - states[n, jj + 1]) ** 2).mean() * (4.0 if jj == k - 1 else 1.0)
            loss = loss / (k + 3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss))
        if (step + 1) % 50 == 0:
            phase = "forced" if step < args.steps else "rollout"
            print(f"step {step + 1} ({phase}) loss {np.mean(losses[-50:]):.6f} "
                  f"{(time.time() - t0) / 60:.1f} min", flush=True)
        if (step + 1) % args.eval_every == 0 or step + 1 == total:
            unet.eval()
            print(f"  held-out: {summary(*evaluate(unet, dec, scaling, held, t_student, a_t, a_n, uncond, args.student_guidance))}", flush=True)
            meta = {"format": "kohya", "base_model": "tiny-shapes", "kind": "step-distilled",
                    "rank": str(args.rank), "alpha": str(args.alpha), "train_steps": str(step + 1),
                    "teacher": f"DDIM {args.teacher_steps} guidance {args.guidance}",
                    "scheduler": "ddim", "steps": str(k), "guidance": str(args.student_guidance)}
            if timesteps:
                meta["timesteps"] = ",".join(map(str, timesteps))
            else:
                meta["steps_offset"] = str(offset)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            save_safetensors(lora_state(wrapped), args.out, meta)
    print(f"done in {(time.time() - t0) / 60:.1f} min -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
