"""open_clip side of scripts/bench_encode.sh: the same measurement as `rsclip bench encode`."""
import argparse
import json
import statistics
import time

import torch

import open_clip


def median_seconds(fn, warmup, iters, cuda):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    model = open_clip.create_model(a.model).to(device).eval()
    torch.manual_seed(0)
    size = model.visual.image_size[0]
    pixels = torch.randn(a.batch_size, 3, size, size, device=device)
    tokens = torch.randint(1, model.vocab_size - 2, (a.batch_size, model.context_length))
    tokens[:, model.context_length // 2] = model.vocab_size - 1
    tokens = tokens.to(device)
    cuda = device.type == "cuda"
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
        image_s = median_seconds(lambda: model.encode_image(pixels), a.warmup, a.iters, cuda)
        text_s = median_seconds(lambda: model.encode_text(tokens), a.warmup, a.iters, cuda)
    print(json.dumps({"impl": "open_clip", "model": a.model, "device": str(device), "precision": a.precision,
                      "batch": a.batch_size, "threads": torch.get_num_threads(),
                      "images_per_s": round(a.batch_size / image_s, 3), "texts_per_s": round(a.batch_size / text_s, 3)}))


if __name__ == "__main__":
    main()
