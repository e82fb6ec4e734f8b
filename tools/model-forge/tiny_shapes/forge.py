"""One command to forge the tiny-shapes model from scratch, then export it.

Runs, in order (each step resumes from its checkpoint in CKPT_DIR if one exists):
  1. train_vae.py          KL autoencoder (dataset rendered and cached on first use)
  2. train_unet.py         text encoder + UNet on cached VAE latents (BPE vocab learned here)
  3. export_onnx.py        ONNX opset 17 + configs + tokenizer into --out
  4. evaluate_model.py     adherence on all 224 long + 64 short prompts
  5. make_grid.py          docs/tiny-shapes-grid.png/.md
  6. verify_onnx.mjs       onnxruntime-node vs torch (if node and onnxruntime-node are available)

Usage (from the repo root):
  /usr/bin/python3 tools/model-forge/tiny_shapes/forge.py --out resources/models/tiny-shapes
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="resources/models/tiny-shapes")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--vae-steps", type=int, default=1100)
    ap.add_argument("--unet-steps", type=int, default=4000)
    ap.add_argument("--te-steps", type=int, default=1500)
    args = ap.parse_args()
    out, docs = os.path.abspath(args.out), os.path.abspath(args.docs)
    py = sys.executable
    run(py, "verify_tokenizer.py")
    run(py, "train_vae.py", "--steps", str(args.vae_steps))
    run(py, "train_unet.py", "--steps", str(args.unet_steps), "--te-steps", str(args.te_steps))
    run(py, "export_onnx.py", "--out", out)
    run(py, "evaluate_model.py")
    run(py, "make_grid.py", "--docs", docs)
    ort = os.path.join(HERE, "..", "..", "..", "node_modules", "onnxruntime-node")
    if os.path.isdir(ort):
        from common import CKPT_DIR
        run("node", "verify_onnx.mjs", out, os.path.join(CKPT_DIR, "export", "test_vectors.json"), ort)


if __name__ == "__main__":
    main()
