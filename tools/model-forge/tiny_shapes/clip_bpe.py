"""CLIP's byte-level BPE tokenizer (openai simple_tokenizer), plus a learner for a tiny vocabulary.

The encoder reproduces openai/CLIP's simple_tokenizer.py (ftfy.fix_text treated as identity), so
the studio's TypeScript tokenizer gives the same ids. It is checked against
/work/shared/golden/clip-tokenizer/cases.json with the real CLIP vocabulary (see verify_tokenizer.py).
The stdlib `re` has no \\p{L}/\\p{N}, so those classes are built from unicodedata.
"""
import html
import json
import re
import sys
import unicodedata
from collections import Counter

MAX_LENGTH = 77
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


def bytes_to_unicode():
    """CLIP/GPT-2 map from the 256 byte values to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def _category_class(prefix):
    """A regex character class of every code point whose general category starts with `prefix`."""
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            ranges.append((start, prev))
            start = None
    if start is not None:
        ranges.append((start, prev))

    def esc(cp):
        return "\\U%08x" % cp

    return "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in ranges)


_L = _category_class("L")
_N = _category_class("N")
PAT = re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"
    + f"[{_L}]+|[{_N}]|[^\\s{_L}{_N}]+",
    re.IGNORECASE,
)


def clean_text(text):
    """openai basic_clean (ftfy as identity) + whitespace_clean + lower()."""
    text = html.unescape(html.unescape(text)).strip()
    text = re.sub(r"\s+", " ", text).strip()
    return text.lower()


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class ClipTokenizer:
    def __init__(self, vocab, merges):
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.bpe_ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.cache = {BOS: BOS, EOS: EOS}
        self.bos_id = vocab[BOS]
        self.eos_id = vocab[EOS]

    @classmethod
    def from_files(cls, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        assert lines[0].startswith("#version"), "merges.txt must start with the #version header"
        merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
        return cls(vocab, merges)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text):
        """Token ids without BOS/EOS, like simple_tokenizer.encode."""
        ids = []
        for token in PAT.findall(clean_text(text)):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids

    def __call__(self, text, max_length=MAX_LENGTH):
        """SD text-encoder input: BOS + ids + EOS, truncated to 77 keeping EOS, padded with EOS."""
        ids = [self.bos_id] + self.encode(text) + [self.eos_id]
        if len(ids) > max_length:
            ids = ids[:max_length - 1] + [self.eos_id]
        return ids + [self.eos_id] * (max_length - len(ids))


def learn_bpe(corpus):
    """Learn merges on a caption corpus until every word is one token (or no pair repeats).

    Words are pre-tokenized and byte-encoded exactly like the encoder does; the last symbol of a
    word carries `</w>`. Ties are broken by the lexicographic order of the pair, so the result is
    deterministic. Returns (vocab dict, merges list) in CLIP's layout.
    """
    byte_encoder = bytes_to_unicode()
    words = Counter()
    for text in corpus:
        for token in PAT.findall(clean_text(text)):
            token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
            words[tuple(token[:-1]) + (token[-1] + "</w>",)] += 1
    words = dict(words)
    merges = []
    while True:
        pairs = Counter()
        for w, c in words.items():
            for i in range(len(w) - 1):
                pairs[(w[i], w[i + 1])] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        a, b = best
        new_words = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + c
        words = new_words
    # CLIP vocab order: 256 byte symbols, the same with </w>, merges joined, then the specials.
    base = list(bytes_to_unicode().values())
    symbols = base + [s + "</w>" for s in base] + ["".join(m) for m in merges] + [BOS, EOS]
    vocab = {s: i for i, s in enumerate(symbols)}
    assert len(vocab) == len(symbols), "duplicate vocabulary entry"
    return vocab, merges


def save_vocab(vocab, merges, out_dir):
    import os
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
