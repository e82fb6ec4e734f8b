"""Measure prompt adherence of the trained model on every (shape, colour, background) combination.

Long prompts: all 224 "a(n) {fg} {shape} on a(n) {bg} background" combos; short prompts: all 32
"{fg} {shape}" combos, twice. Prints fractions and writes them to CKPT_DIR/adherence.json.

Usage: /usr/bin/python3 evaluate_model.py [--guidance 7] [--seed 0]
"""
import argparse
import json
import os

from adherence import score
from common import CKPT_DIR, set_threads
from dataset import COLOURS, SHAPES, caption_variants
from load_trained import TrainedModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guidance", type=float, default=7.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    set_threads()
    model = TrainedModel()
    long_p, long_l, short_p, short_l = [], [], [], []
    for s in SHAPES:
        for f in COLOURS:
            short_p += [f"{f} {s}"] * 2
            short_l += [(s, f, None)] * 2
            for b in COLOURS:
                if b != f:
                    long_p.append(caption_variants(s, f, b)[0])
                    long_l.append((s, f, b))
    res = {"unet_step": model.step, "guidance": args.guidance, "steps": args.steps, "sampler": "DDIM",
           "long": score(model.generate(long_p, args.seed, args.steps, args.guidance), long_l),
           "short": score(model.generate(short_p, args.seed + 1, args.steps, args.guidance), short_l)}
    res["n_long"], res["n_short"] = len(long_p), len(short_p)
    print(json.dumps(res, indent=1))
    with open(os.path.join(CKPT_DIR, "adherence.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
