#!/usr/bin/python3
"""Forge a full-size, random-weight Stable Diffusion 1.5 model folder (optimum ONNX layout).

    /usr/bin/python3 tools/model-forge/sd15_random.py --out DIR [--opset 17]
        [--timestep float|int64] [--seed 0] [--threads 2] [--components text_encoder,unet,...]

Every component has SD 1.5's real architecture and parameter count (UNet 859,520,964 with
320/640/1280/1280 channels, 8 heads, depth 1, 2 layers per block, cross-attention 768; CLIP
ViT-L/14 text encoder 123,060,480; VAE decoder 49,490,199 / encoder 34,163,664 with 4 latent
channels and 128/256/512/512 channels), so load time, memory and per-step latency are those
of a real SD 1.5 export.  The weights are random: images are noise.

Output layout (what `optimum-cli export onnx` writes for SD 1.5; see the reference doc):
  model_index.json, scheduler/scheduler_config.json, tokenizer/ (generated CLIP-format
  vocab of 49,408 entries, NOT the real CLIP vocab), text_encoder/model.onnx + config.json,
  unet/model.onnx + model.onnx_data + config.json, vae_decoder/ and vae_encoder/ model.onnx
  + config.json.
  --timestep float (default) = optimum >= 1.24: input_ids int64, timestep float32 scalar [].
  --timestep int64           = optimum <  1.24: input_ids int64, timestep int64 [steps].

Memory: components are built and exported one at a time; the UNet (3.44 GB fp32) needs
about 8-10 GB peak while torch serialises it.  Needs Debian's python3-torch + python3-onnx.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "sd15"))
sys.path.insert(0, os.path.join(HERE, "fixtures"))
from nets import (  # noqa: E402
    SD15_UNET, SD_VAE, ClipTextModel, UNet2DCondition, VaeDecoder, VaeEncoder, count_params,
)
from clip_bpe import BOS, EOS, build_vocab, bytes_to_unicode, write_tokenizer  # noqa: E402

DIFFUSERS_VERSION = "0.30.3"
TRANSFORMERS_VERSION = "4.44.2"
COMPONENTS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_gb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# tokenizer: 49,408 entries with CLIP's structure (generated merges, real special ids)
# ---------------------------------------------------------------------------------------------
def full_size_vocab():
    """256 byte symbols + 256 with </w> + 48,894 merges + BOS (49406) + EOS (49407).
    The first merges are learned from a small word list (clip_bpe.py); the rest are
    synthetic two-symbol merges (x + y), which are valid BPE rules but not CLIP's."""
    vocab_small, merges = build_vocab(64)
    syms = list(bytes_to_unicode().values())
    seen = set(syms) | {s + "</w>" for s in syms} | {a + b for a, b in merges}
    want = 49408 - 512 - 2
    letters = [c for c in syms if c.isalpha() and c.isascii()] + [c for c in syms if not (c.isalpha() and c.isascii())]
    rights = [c + "</w>" for c in letters] + letters
    for x in letters:
        if len(merges) >= want:
            break
        for y in rights:
            if len(merges) >= want:
                break
            if x + y not in seen:
                merges.append((x, y))
                seen.add(x + y)
    tokens = syms + [s + "</w>" for s in syms] + [a + b for a, b in merges] + [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == 49408 and vocab[BOS] == 49406 and vocab[EOS] == 49407, len(vocab)
    return vocab, merges


# ---------------------------------------------------------------------------------------------
# configs (real SD 1.5 values)
# ---------------------------------------------------------------------------------------------
def unet_config() -> dict:
    return {
        "_class_name": "UNet2DConditionModel",
        "_diffusers_version": DIFFUSERS_VERSION,
        "act_fn": "silu",
        "addition_embed_type": None,
        "addition_embed_type_num_heads": 64,
        "addition_time_embed_dim": None,
        "attention_head_dim": 8,
        "attention_type": "default",
        "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False,
        "class_embed_type": None,
        "class_embeddings_concat": False,
        "conv_in_kernel": 3,
        "conv_out_kernel": 3,
        "cross_attention_dim": 768,
        "cross_attention_norm": None,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1,
        "dual_cross_attention": False,
        "encoder_hid_dim": None,
        "encoder_hid_dim_type": None,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 2,
        "mid_block_only_cross_attention": None,
        "mid_block_scale_factor": 1,
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "num_attention_heads": None,
        "num_class_embeds": None,
        "only_cross_attention": False,
        "out_channels": 4,
        "projection_class_embeddings_input_dim": None,
        "resnet_out_scale_factor": 1.0,
        "resnet_skip_time_act": False,
        "resnet_time_scale_shift": "default",
        "sample_size": 64,
        "time_cond_proj_dim": None,
        "time_embedding_act_fn": None,
        "time_embedding_dim": None,
        "time_embedding_type": "positional",
        "timestep_post_act": None,
        "transformer_layers_per_block": 1,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "upcast_attention": False,
        "use_linear_projection": False,
    }


def vae_config() -> dict:
    return {
        "_class_name": "AutoencoderKL",
        "_diffusers_version": DIFFUSERS_VERSION,
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "force_upcast": True,
        "in_channels": 3,
        "latent_channels": 4,
        "latents_mean": None,
        "latents_std": None,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": 512,
        "scaling_factor": 0.18215,
        "shift_factor": None,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "use_post_quant_conv": True,
        "use_quant_conv": True,
    }


def text_config() -> dict:
    return {
        "_name_or_path": "latent-studio/sd15-random",
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 2,
        "hidden_act": "quick_gelu",
        "hidden_size": 768,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": 3072,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "pad_token_id": 1,
        "projection_dim": 768,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "vocab_size": 49408,
    }


SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": DIFFUSERS_VERSION,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
}

MODEL_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": DIFFUSERS_VERSION,
    "_name_or_path": "latent-studio/sd15-random",
    "feature_extractor": [None, None],
    "image_encoder": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


# ---------------------------------------------------------------------------------------------
# export helpers
# ---------------------------------------------------------------------------------------------
def collate_external(src_model: str, src_dir: str, dst_model: str, location: str,
                     size_threshold: int = 1024, align: int = 4096) -> int:
    """Re-save a (possibly torch multi-file external) ONNX model with every tensor of at least
    size_threshold bytes in ONE external file `location` next to dst_model, streaming tensor by
    tensor (never holding all weights in memory). Large tensors start on `align` offsets."""
    model = onnx.load(src_model, load_external_data=False)
    dst_dir = os.path.dirname(dst_model)
    data_path = os.path.join(dst_dir, location)
    total = 0
    with open(data_path, "wb") as out:
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                with open(os.path.join(src_dir, info["location"]), "rb") as f:
                    f.seek(int(info.get("offset", 0)))
                    raw = f.read(int(info["length"])) if "length" in info else f.read()
            elif t.HasField("raw_data") and len(t.raw_data) >= size_threshold:
                raw = t.raw_data
            else:
                continue
            if len(raw) >= 1 << 20 and out.tell() % align:
                out.write(b"\0" * (align - out.tell() % align))
            offset = out.tell()
            out.write(raw)
            t.ClearField("raw_data")
            del t.external_data[:]
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
                e = t.external_data.add()
                e.key, e.value = k, v
            total += len(raw)
            del raw
    onnx.save_model(model, dst_model)
    return total


def export(module, args, path, input_names, output_names, dynamic_axes, opset, external: str | None = None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    t0 = time.time()
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as td:
        tmp = os.path.join(td, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, args, tmp, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True)
        log(f"  traced+serialised {os.path.relpath(path)} in {time.time() - t0:.0f}s (peak RSS {rss_gb():.1f} GB)")
        if external:
            n = collate_external(tmp, td, path, external)
            log(f"  collated {n / 1e9:.2f} GB into {external}")
        else:
            shutil.move(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output model folder (created; must not hold another model)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--timestep", choices=("float", "int64"), default="float",
                    help="float: optimum>=1.24 (float32 scalar); int64: optimum<1.24 (int64 [steps])")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--components", default=",".join(COMPONENTS),
                    help=f"comma list, subset of {','.join(COMPONENTS)} (configs/tokenizer are always written)")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test of this script
    a = ap.parse_args()
    comps = [c for c in a.components.split(",") if c]
    for c in comps:
        if c not in COMPONENTS:
            ap.error(f"unknown component {c}")
    torch.set_num_threads(a.threads)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    log(f"forging random SD 1.5 into {out} (opset {a.opset}, timestep {a.timestep}, seed {a.seed})")

    # ---- small files
    vocab, merges = full_size_vocab()
    write_tokenizer(os.path.join(out, "tokenizer"), vocab, merges, EOS, False, "openai/clip-vit-large-patch14")
    write_json(os.path.join(out, "model_index.json"), MODEL_INDEX)
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), SCHEDULER)
    write_json(os.path.join(out, "text_encoder", "config.json"), text_config())
    write_json(os.path.join(out, "unet", "config.json"), unet_config())
    write_json(os.path.join(out, "vae_decoder", "config.json"), vae_config())
    write_json(os.path.join(out, "vae_encoder", "config.json"), vae_config())

    unet_kw = dict(SD15_UNET)
    vae_kw = dict(SD_VAE)
    clip_kw = {}
    if a.tiny:
        unet_kw.update(block_out_channels=(32, 64, 64, 64), heads=2, cross_attention_dim=64)
        vae_kw.update(block_out_channels=(32, 32, 64, 64))
        clip_kw = dict(dim=64, layers=2, heads=2, mlp=128)

    # ---- text encoder
    if "text_encoder" in comps:
        torch.manual_seed(a.seed)
        m = ClipTextModel(**clip_kw)
        log(f"text_encoder: {count_params(m):,} params")
        ids = torch.full((1, 77), 49407, dtype=torch.int64)
        ids[0, 0] = 49406
        export(m, (ids,), os.path.join(out, "text_encoder", "model.onnx"), ["input_ids"],
               ["last_hidden_state", "pooler_output"],
               {"input_ids": {0: "batch_size", 1: "sequence_length"},
                "last_hidden_state": {0: "batch_size", 1: "sequence_length"},
                "pooler_output": {0: "batch_size"}}, a.opset)
        del m
        gc.collect()

    # ---- unet
    if "unet" in comps:
        torch.manual_seed(a.seed + 1)
        t0 = time.time()
        m = UNet2DCondition(**unet_kw)
        log(f"unet: {count_params(m):,} params (built in {time.time() - t0:.0f}s)")
        ts = torch.tensor(999.0) if a.timestep == "float" else torch.tensor([999], dtype=torch.int64)
        axes = {"sample": {0: "batch_size", 2: "height", 3: "width"},
                "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"},
                "out_sample": {0: "batch_size", 2: "height", 3: "width"}}
        if a.timestep == "int64":
            axes["timestep"] = {0: "steps"}
        # trace at 8x8 latents (cheap); all spatial axes are dynamic
        export(m, (torch.randn(1, 4, 8, 8), ts, torch.randn(1, 77, unet_kw["cross_attention_dim"])), os.path.join(out, "unet", "model.onnx"),
               ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], axes, a.opset,
               external="model.onnx_data")
        del m
        gc.collect()

    # ---- vae
    if "vae_decoder" in comps:
        torch.manual_seed(a.seed + 2)
        m = VaeDecoder(**vae_kw)
        log(f"vae_decoder: {count_params(m):,} params")
        export(m, (torch.randn(1, 4, 8, 8),), os.path.join(out, "vae_decoder", "model.onnx"),
               ["latent_sample"], ["sample"],
               {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
                "sample": {0: "batch_size", 2: "latent_height * 8", 3: "latent_width * 8"}}, a.opset)
        del m
        gc.collect()
    if "vae_encoder" in comps:
        torch.manual_seed(a.seed + 3)
        m = VaeEncoder(**vae_kw)
        log(f"vae_encoder: {count_params(m):,} params")
        export(m, (torch.randn(1, 3, 64, 64),), os.path.join(out, "vae_encoder", "model.onnx"),
               ["sample"], ["latent_parameters"],
               {"sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
                "latent_parameters": {0: "batch_size", 2: "sample_height / 8", 3: "sample_width / 8"}}, a.opset)
        del m
        gc.collect()

    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(
            "# sd15-random (generated, do not commit)\n\n"
            "Stable Diffusion 1.5 architecture with RANDOM weights, written by "
            "`tools/model-forge/sd15_random.py`. Images are noise; load time, memory and step latency are real.\n\n"
            f"- ONNX opset {a.opset}; input_ids int64; timestep "
            f"{'float32 scalar (optimum >= 1.24)' if a.timestep == 'float' else 'int64 [steps] (optimum < 1.24)'}.\n"
            "- UNet weights in `unet/model.onnx_data` (external data).\n"
            "- `tokenizer/` is a GENERATED CLIP-format vocabulary (49,408 entries, `<|startoftext|>` = 49406, "
            "`<|endoftext|>` = 49407, pad = `<|endoftext|>`); its merges are synthetic, not openai/CLIP's, "
            "so token ids for real words differ from SD 1.5's.\n"
            f"- seed {a.seed}.\n"
        )
    log(f"done in {time.time() - t_start:.0f}s, peak RSS {rss_gb():.1f} GB")
    for dp, _, fs in sorted(os.walk(out)):
        for fn in sorted(fs):
            p = os.path.join(dp, fn)
            sz = os.path.getsize(p)
            if sz > 1 << 20:
                log(f"  {os.path.relpath(p, out)}: {sz / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
