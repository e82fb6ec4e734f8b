"""Export the trained tiny-shapes components to ONNX (opset 17) in optimum's Stable Diffusion layout.

Writes model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae_encoder/, vae_decoder/
(each with config.json), and a test vector file (torch outputs for fixed inputs) used by
verify_onnx.mjs to check onnxruntime-node against torch numerically.

Usage: /usr/bin/python3 export_onnx.py --out resources/models/tiny-shapes
"""
import argparse
import json
import os
import shutil

import torch

from common import CKPT_DIR, set_threads
from onnx_fp16_storage import round_weights_to_fp16, store_weights_as_fp16
from text_encoder import TextEncoder
from unet import UNet
from vae import LATENT_CHANNELS, AutoencoderKL

OPSET = 17


class TextEncoderOnnx(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        return self.te(input_ids)


class VaeEncoderOnnx(torch.nn.Module):
    """Returns the posterior mean (not sampled, not multiplied by scaling_factor)."""

    def __init__(self, vae):
        super().__init__()
        self.encoder = vae.encoder

    def forward(self, sample):
        return self.encoder(sample)[0]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def export(module, args, path, inputs, outputs, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)


def set_static_dim(path, output_name, axis, value):
    """torch names the channel axis after the Slice that produced it; it is static, so say so."""
    import onnx
    model = onnx.load(path)
    for out in model.graph.output:
        if out.name == output_name:
            out.type.tensor_type.shape.dim[axis].dim_value = value
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ckpt-dir", default=CKPT_DIR)
    args = ap.parse_args()
    set_threads()
    out = args.out
    ck = torch.load(os.path.join(args.ckpt_dir, "unet.pt"))
    scaling = ck["scaling_factor"]
    tcfg, ucfg = ck["te_config"], ck["unet_config"]
    te = TextEncoder(tcfg["vocab_size"], tcfg["hidden_size"], tcfg["num_hidden_layers"], tcfg["num_attention_heads"])
    te.load_state_dict(ck["te_ema"])
    unet = UNet(ucfg["cross_attention_dim"], tuple(ucfg["block_out_channels"]), ucfg["attention_head_dim"])
    unet.load_state_dict(ck["unet_ema"])
    vae = AutoencoderKL()
    vae.load_state_dict(torch.load(os.path.join(args.ckpt_dir, "vae.pt"))["model"])
    for m in (te, unet, vae):
        m.eval()
        round_weights_to_fp16(m)  # the shipped weights are float16-exact (half the download size)
    D = tcfg["hidden_size"]

    # Fixed test inputs; their torch outputs are saved for the onnxruntime-node check.
    g = torch.Generator().manual_seed(0)
    ids = torch.full((2, 77), tcfg["vocab_size"] - 1, dtype=torch.int32)
    ids[:, 0] = tcfg["vocab_size"] - 2
    ids[0, 1:4] = torch.tensor([320, 100, 200], dtype=torch.int32)
    sample = torch.randn(2, 4, 8, 8, generator=g)
    timestep = torch.tensor([981.0, 1.0])
    ehs = torch.randn(2, 77, D, generator=g)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1

    with torch.no_grad():
        export(TextEncoderOnnx(te), (ids,), f"{out}/text_encoder/model.onnx", ["input_ids"],
               ["last_hidden_state", "pooler_output"],
               {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}})
        export(unet, (sample, timestep, ehs), f"{out}/unet/model.onnx",
               ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
               {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                "encoder_hidden_states": {0: "batch", 1: "sequence"},
                "out_sample": {0: "batch", 2: "height", 3: "width"}})
        export(vae.decoder, (sample,), f"{out}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
               {"latent_sample": {0: "batch", 2: "height", 3: "width"},
                "sample": {0: "batch", 2: "height", 3: "width"}})
        export(VaeEncoderOnnx(vae), (image,), f"{out}/vae_encoder/model.onnx", ["sample"], ["latent_sample"],
               {"sample": {0: "batch", 2: "height", 3: "width"},
                "latent_sample": {0: "batch", 2: "height", 3: "width"}})
        set_static_dim(f"{out}/vae_encoder/model.onnx", "latent_sample", 1, LATENT_CHANNELS)
        for component in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
            store_weights_as_fp16(f"{out}/{component}/model.onnx")
        hs, pooled = te(ids)
        vectors = {
            "input_ids": ids.flatten().tolist(), "last_hidden_state": hs.flatten().tolist(),
            "pooler_output": pooled.flatten().tolist(),
            "sample": sample.flatten().tolist(), "timestep": timestep.tolist(),
            "encoder_hidden_states": ehs.flatten().tolist(),
            "out_sample": unet(sample, timestep, ehs).flatten().tolist(),
            "decoded": vae.decoder(sample).flatten().tolist(),
            "image": image.flatten().tolist(), "latent_mean": vae.encoder(image)[0].flatten().tolist(),
            "hidden_size": D,
        }
    os.makedirs(os.path.join(args.ckpt_dir, "export"), exist_ok=True)
    with open(os.path.join(args.ckpt_dir, "export", "test_vectors.json"), "w") as f:
        json.dump(vectors, f)

    write_configs(out, args.ckpt_dir, tcfg, ucfg, scaling, ck["step"])
    print(f"exported to {out} (unet step {ck['step']}, scaling_factor {scaling:.5f})")


def write_configs(out, ckpt_dir, tcfg, ucfg, scaling, step):
    write_json(f"{out}/model_index.json", {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    })
    # SD1.5's scheduler config, but DDIM: PLMS (PNDM) was measured unstable on this small model
    # below ~50 steps, while DDIM/Euler/DPM++ are clean at 20.
    write_json(f"{out}/scheduler/scheduler_config.json", {
        "_class_name": "DDIMScheduler",
        "_diffusers_version": "0.30.0",
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
    })
    write_json(f"{out}/text_encoder/config.json", {
        "_name_or_path": "latent-studio/tiny-shapes",
        "architectures": ["CLIPTextModel"],
        "model_type": "clip_text_model",
        "hidden_act": "gelu",
        "hidden_size": tcfg["hidden_size"],
        "intermediate_size": tcfg["intermediate_size"],
        "num_attention_heads": tcfg["num_attention_heads"],
        "num_hidden_layers": tcfg["num_hidden_layers"],
        "max_position_embeddings": tcfg["max_position_embeddings"],
        "vocab_size": tcfg["vocab_size"],
        "bos_token_id": tcfg["vocab_size"] - 2,
        "eos_token_id": tcfg["vocab_size"] - 1,
        "pad_token_id": tcfg["vocab_size"] - 1,
        "layer_norm_eps": 1e-5,
        "projection_dim": tcfg["hidden_size"],
        "torch_dtype": "float32",
    })
    write_json(f"{out}/unet/config.json", {
        "_class_name": "UNet2DConditionModel",
        "_diffusers_version": "0.30.0",
        "_note": "tiny-shapes custom UNet (not diffusers' block layout); I/O matches UNet2DConditionModel",
        "sample_size": 8,
        "in_channels": ucfg["in_channels"],
        "out_channels": ucfg["out_channels"],
        "block_out_channels": ucfg["block_out_channels"],
        "layers_per_block": ucfg["layers_per_block"],
        "cross_attention_dim": ucfg["cross_attention_dim"],
        "attention_head_dim": ucfg["attention_head_dim"],
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "prediction_type": "epsilon",
        "training_steps": step,
    })
    vae_cfg = {
        "_class_name": "AutoencoderKL",
        "_diffusers_version": "0.30.0",
        "_note": ("tiny-shapes KL autoencoder, 8x downsampling. scaling_factor = 1/std of the "
                  "training-set latents, computed like SD. vae_encoder outputs the posterior MEAN "
                  "(latent_sample), NOT multiplied by scaling_factor; multiply by it before "
                  "diffusion, and divide UNet latents by it before vae_decoder."),
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": LATENT_CHANNELS,
        "sample_size": 64,
        "scaling_factor": round(scaling, 6),
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    }
    write_json(f"{out}/vae_decoder/config.json", vae_cfg)
    write_json(f"{out}/vae_encoder/config.json", vae_cfg)
    tok_out = f"{out}/tokenizer"
    os.makedirs(tok_out, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(ckpt_dir, "tokenizer", name), os.path.join(tok_out, name))
    special = {
        "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
        "pad_token": "<|endoftext|>",
        "unk_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False},
    }
    write_json(f"{tok_out}/special_tokens_map.json", special)
    vocab_size = tcfg["vocab_size"]
    added = {
        str(vocab_size - 2): {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False, "special": True},
        str(vocab_size - 1): {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False, "special": True},
    }
    write_json(f"{tok_out}/tokenizer_config.json", {
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "bos_token": "<|startoftext|>",
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": "<|endoftext|>",
    })


if __name__ == "__main__":
    main()
