"""PIL + open_clip preprocessing throughput (images per CPU-second) on one thread, files in memory: the Python side
of scripts/bench_image.sh (rsclip's side: `rsclip bench preprocess`). Prints one JSON line.

  bench_preprocess.py [--transform eval|train] [--size 224] [--seconds 2] FILE...

eval:  Image.open + open_clip's image_transform(size, is_train=False) (resize in the file's
       PIL mode, as open_clip's CsvDataset feeds it; rsclip's eval bench does the same).
train: Image.open(...).convert("RGB") (webdataset's "pilrgb") + RandomResizedCrop(scale 0.9-1,
       BICUBIC), RandomHorizontalFlip, RandomRotation(0-360), ToTensor, Normalize (GeoRSCLIP).
"""

import argparse
import io
import json
import time

import torch
from PIL import Image
from torchvision.transforms import (Compose, InterpolationMode, Normalize, RandomHorizontalFlip, RandomResizedCrop,
                                    RandomRotation, ToTensor)

from open_clip.transform import image_transform

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--transform", default="eval", choices=["eval", "train"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    torch.set_num_threads(1)
    blobs = [open(f, "rb").read() for f in a.files]
    if a.transform == "eval":
        tf = image_transform(a.size, is_train=False, mean=MEAN, std=STD)
    else:
        tf = Compose([RandomResizedCrop(a.size, scale=(0.9, 1.0), interpolation=InterpolationMode.BICUBIC),
                      RandomHorizontalFlip(), RandomRotation((0, 360)), ToTensor(), Normalize(MEAN, STD)])

    def once(b):  # CPU time of this thread: wall time on a shared machine measures the others too
        t0 = time.thread_time()
        im = Image.open(io.BytesIO(b))
        im.load()
        if a.transform == "train":
            im = im.convert("RGB")
        t1 = time.thread_time()
        tf(im)
        t2 = time.thread_time()
        return t1 - t0, t2 - t1

    for b in blobs:  # warm-up
        once(b)
    decode_s = transform_s = 0.0
    count = 0
    while decode_s + transform_s < a.seconds:
        for b in blobs:
            d, t = once(b)
            decode_s += d
            transform_s += t
            count += 1
    total = decode_s + transform_s
    print(json.dumps({"impl": "open_clip", "transform": a.transform, "files": len(blobs), "images": count,
                      "images_per_s": round(count / total, 1), "decode_ms": round(1e3 * decode_s / count, 4),
                      "transform_ms": round(1e3 * transform_s / count, 4)}))


if __name__ == "__main__":
    main()
