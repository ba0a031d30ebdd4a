#!/usr/bin/env python3
"""The Python side of scripts/bench_tokenizer.sh: writes N remote-sensing captions (the
caption generator of tokenizer_cases.py: templates over RS class and object names, some
with accented place names and an em dash) to DIR/texts.txt, tokenizes them with open_clip
3.3.0 (open_clip.tokenize, one process, as a data loader worker would) and writes the ids to
DIR/open_clip.safetensors. Prints "open_clip: N texts in S s (R texts/s; C s CPU, ...)",
the best of --repeat runs for wall and CPU time each.

usage: bench_tokenizer.py DIR [--count N] [--repeat K]
"""
import argparse
import os
import random
import sys
import time

import open_clip
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_cases as tc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    args = ap.parse_args()
    rng = random.Random(1)
    texts = [tc.caption(rng) for _ in range(args.count)]
    with open(os.path.join(args.dir, "texts.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    best, best_cpu = None, None
    for _ in range(args.repeat):
        tok = open_clip.tokenizer.SimpleTokenizer()  # a fresh BPE cache each run
        start, cpu_start = time.perf_counter(), time.process_time()
        tokens = tok(texts)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        best = seconds if best is None else min(best, seconds)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    save_file({"tokens": tokens}, os.path.join(args.dir, "open_clip.safetensors"))
    print(f"open_clip: {len(texts)} texts in {best:.3f} s ({len(texts) / best:.0f} texts/s; "
          f"{best_cpu:.3f} s CPU, {len(texts) / best_cpu:.0f} texts per CPU-second)")


if __name__ == "__main__":
    main()
