"""SD1.x noise schedule (scaled_linear betas 0.00085..0.012, 1000 steps) and a DDIM+CFG sampler."""
import torch

NUM_TRAIN_TIMESTEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


def alphas_cumprod():
    betas = torch.linspace(BETA_START ** 0.5, BETA_END ** 0.5, NUM_TRAIN_TIMESTEPS, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).float()


def ddim_timesteps(steps, offset=1):
    """'leading' spacing with steps_offset=1, as SD1.5's scheduler config does."""
    ratio = NUM_TRAIN_TIMESTEPS // steps
    return [int(t) for t in (torch.arange(steps - 1, -1, -1) * ratio + offset)]


@torch.no_grad()
def sample_ddim(unet, cond, uncond, shape, steps=20, guidance=6.0, generator=None):
    """Deterministic DDIM (eta=0) with classifier-free guidance; returns x0 latents (scaled)."""
    ac = alphas_cumprod()
    x = torch.randn(shape, generator=generator)
    ctx = torch.cat([uncond, cond])
    ts = ddim_timesteps(steps)
    ratio = NUM_TRAIN_TIMESTEPS // steps
    for t in ts:
        t_in = torch.full((2 * shape[0],), float(t))
        eps_u, eps_c = unet(torch.cat([x, x]), t_in, ctx).chunk(2)
        eps = eps_u + guidance * (eps_c - eps_u)
        a_t = ac[t]
        prev = t - ratio
        a_prev = ac[prev] if prev >= 0 else ac[0]  # set_alpha_to_one = False
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x
