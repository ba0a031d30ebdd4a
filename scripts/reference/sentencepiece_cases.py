#!/usr/bin/env python3
"""Reference cases for the SentencePiece tokenizer test (tests/data/text/sentencepiece_tokenizer_test.cpp).

Trains two tiny SentencePiece models on generated captions and writes into OUT_DIR:
  unigram.model   unigram, 500 pieces, T5-style ids (pad 0, eos 1, unk 2, no bos)
  bpe.model       BPE, 500 pieces, sentencepiece's default ids (unk 0, bos 1, eos 2, no pad)
  cases.safetensors
      texts_bytes/texts_offsets   the test strings (UTF-8, concatenated)
      tokens_K                    [N, L_K] int64 for layout K of metadata "layouts" (JSON)

Each layout is what open_clip's SigLipTokenizer / HFTokenizer produce for a T5-style
vocabulary: text cleaned by open_clip's clean function, encoded with Python `sentencepiece`,
[bos] + pieces[:L - specials] + [eos], padded with the pad id.

usage: sentencepiece_cases.py OUT_DIR
"""
import json
import os
import random
import sys

import sentencepiece as spm
import torch
from open_clip import tokenizer as oct
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_cases as tc  # noqa: E402  (the caption generator and string categories)

LAYOUTS = [
    # SigLIP: canonicalize, no BOS, EOS, pad 1, 64 ids
    {"model": "unigram.model", "clean": "canonicalize", "bos": False, "eos": True, "pad_id": 1, "context_length": 64},
    # model's own pad id (0), lower-case cleaning, heavy truncation
    {"model": "unigram.model", "clean": "lower", "bos": False, "eos": True, "pad_id": -1, "context_length": 16},
    # BOS and EOS, no pad id in the model (0), whitespace cleaning
    {"model": "bpe.model", "clean": "whitespace", "bos": True, "eos": True, "pad_id": -1, "context_length": 12},
    # neither BOS nor EOS, explicit pad
    {"model": "bpe.model", "clean": "canonicalize", "bos": False, "eos": False, "pad_id": 7, "context_length": 20},
]


def layout(sp, cfg, text):
    ids = sp.encode(oct.get_clean_fn(cfg["clean"])(text))
    head = [sp.bos_id()] if cfg["bos"] else []
    tail = [sp.eos_id()] if cfg["eos"] else []
    room = cfg["context_length"] - len(head) - len(tail)
    pad = cfg["pad_id"] if cfg["pad_id"] >= 0 else max(sp.pad_id(), 0)
    row = head + ids[:room] + tail
    return row + [pad] * (cfg["context_length"] - len(row))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    corpus = os.path.join(out, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(4000):
            f.write(tc.caption(rng) + "\n")
        for s in tc.ACCENTED + tc.PLACES + tc.CONTRACTIONS:
            f.write(s + "\n")
    common = dict(input=corpus, vocab_size=500, character_coverage=1.0, hard_vocab_limit=False,
                  minloglevel=2, num_threads=1)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(out, "unigram"), model_type="unigram",
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, **common)
    spm.SentencePieceTrainer.train(model_prefix=os.path.join(out, "bpe"), model_type="bpe", **common)

    assigned = [c for c in range(0x30000) if tc.unicodedata.category(chr(c)) not in ("Cn", "Co", "Cs")]
    cats = tc.build_categories(rng, 2000, assigned)
    texts = [t for name in cats for t in cats[name]]
    tensors = {}
    tensors["texts_bytes"], tensors["texts_offsets"] = tc.pack(texts)
    for k, cfg in enumerate(LAYOUTS):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(out, cfg["model"]))
        tensors[f"tokens_{k}"] = torch.tensor([layout(sp, cfg, t) for t in texts], dtype=torch.int64)
    save_file(tensors, os.path.join(out, "cases.safetensors"),
              metadata={"layouts": json.dumps(LAYOUTS), "sentencepiece": spm.__version__})
    print(f"{len(texts)} texts, {len(LAYOUTS)} layouts -> {out}")


if __name__ == "__main__":
    main()
