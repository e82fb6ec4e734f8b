"""Check clip_bpe.ClipTokenizer against the golden openai/CLIP cases (real CLIP vocabulary).

Usage: /usr/bin/python3 verify_tokenizer.py [/work/shared/golden/clip-tokenizer]
"""
import json
import os
import sys

from clip_bpe import ClipTokenizer


def main():
    golden = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/golden/clip-tokenizer"
    tok = ClipTokenizer.from_files(os.path.join(golden, "vocab.json"), os.path.join(golden, "merges.txt"))
    with open(os.path.join(golden, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    bad = 0
    for c in cases:
        ids = [tok.bos_id] + tok.encode(c["prompt"]) + [tok.eos_id]
        if ids != c["ids"] or tok(c["prompt"]) != c["ids77"]:
            bad += 1
            print("MISMATCH", repr(c["prompt"]), ids[:20], c["ids"][:20])
    print(f"{len(cases) - bad}/{len(cases)} golden cases match")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
