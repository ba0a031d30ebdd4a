"""Python side of scripts/bench_loader.sh: open_clip's webdataset training pipeline.

  make DIR N          N synthetic 256x256 JPEG image-caption samples in shards of 1000
                      (webdataset ShardWriter), DIR/bench-000000.tar ...
  run SPEC WORKERS BATCH BATCHES WARMUP
                      open_clip_train's pipeline on the shards (shard list, tar samples,
                      shuffle 5000/1000, decode pilrgb, rename, GeoRSCLIP's train transform
                      = RandomResizedCrop(224, scale 0.9-1, bicubic) + horizontal flip +
                      RandomRotation(0-360) + ToTensor + Normalize, open_clip tokenizer,
                      batched) in a WebLoader with WORKERS processes; prints one JSON line:
                      images, wall seconds and CPU seconds (main + workers) of the timed
                      batches, and a one-core breakdown per image.
"""

import io
import json
import math
import random
import sys
import time


def make(directory, n):
    import numpy as np
    import webdataset as wds
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(0)
    words = ("river forest road building farmland airport harbor bridge residential industrial lake "
             "parking meadow desert beach stadium church pond railway viaduct").split()
    with wds.ShardWriter(f"{directory}/bench-%06d.tar", maxcount=1000) as sink:
        for i in range(int(n)):
            # Smooth fields with shapes and mild noise: JPEG sizes like aerial tiles (~15-25 KB).
            y, x = np.mgrid[0:256, 0:256]
            base = np.stack([(np.sin(x / (9 + rng.random() * 20) + c) * 60 + 120 + rng.random() * 40)
                             + (np.cos(y / (11 + rng.random() * 25) + c) * 40) for c in range(3)], axis=-1)
            base += np.random.default_rng(i).normal(0, 8, base.shape)
            img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
            draw = ImageDraw.Draw(img)
            for _ in range(rng.randint(3, 9)):
                x0, y0 = rng.randint(0, 230), rng.randint(0, 230)
                draw.rectangle([x0, y0, x0 + rng.randint(8, 60), y0 + rng.randint(8, 60)],
                               fill=tuple(rng.randint(0, 255) for _ in range(3)))
            img = img.filter(ImageFilter.GaussianBlur(0.6))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=90)
            caption = f"an aerial image of a {rng.choice(words)} next to a {rng.choice(words)} and some {rng.choice(words)}s"
            sink.write({"__key__": f"{i:08d}", "jpg": buf.getvalue(), "txt": caption})


def train_transform():
    from torchvision import transforms as T
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    return T.Compose([
        T.RandomResizedCrop(224, scale=(0.9, 1.0), interpolation=T.InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.RandomRotation((0, 360)),
        T.ToTensor(),
        T.Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD),
    ])


def breakdown(spec, count=200):
    """One-core time per image of each step, on the first `count` images."""
    import open_clip
    import webdataset as wds
    from PIL import Image
    from torchvision import transforms as T
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    samples = []
    for s in wds.DataPipeline(wds.SimpleShardList(spec), wds.tarfile_to_samples()):
        samples.append(s)
        if len(samples) == count:
            break
    tok = open_clip.get_tokenizer("ViT-B-32")
    rrc = T.RandomResizedCrop(224, scale=(0.9, 1.0), interpolation=T.InterpolationMode.BICUBIC)
    flip, rot = T.RandomHorizontalFlip(), T.RandomRotation((0, 360))
    norm = T.Compose([T.ToTensor(), T.Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)])
    times = {"decode": 0.0, "crop_resize": 0.0, "flip_rotate": 0.0, "normalise": 0.0, "tokenize": 0.0}
    for s in samples:
        t = time.process_time()
        img = Image.open(io.BytesIO(s["jpg"])).convert("RGB")
        times["decode"] += time.process_time() - t
        t = time.process_time()
        img = rrc(img)
        times["crop_resize"] += time.process_time() - t
        t = time.process_time()
        img = rot(flip(img))
        times["flip_rotate"] += time.process_time() - t
        t = time.process_time()
        norm(img)
        times["normalise"] += time.process_time() - t
        t = time.process_time()
        tok([s["txt"].decode("utf-8")])
        times["tokenize"] += time.process_time() - t
    return {k + "_ms": v / len(samples) * 1e3 for k, v in times.items()}


class Stamp:
    """Appends (worker id, the worker's CPU seconds so far) to each batch."""

    def __call__(self, batch):
        import torch.utils.data

        info = torch.utils.data.get_worker_info()
        return batch + ((info.id if info else -1, time.process_time()),)


def run(spec, workers, batch, batches, warmup):
    import open_clip
    import torch
    import webdataset as wds

    torch.set_num_threads(1)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    workers, batch, batches, warmup = int(workers), int(batch), int(batches), int(warmup)
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(spec),
        wds.split_by_worker,
        wds.tarfile_to_samples(),
        wds.shuffle(bufsize=5000, initial=1000),
        wds.decode("pilrgb"),
        wds.rename(image="jpg;png;jpeg;webp", text="txt"),
        wds.map_dict(image=train_transform(), text=lambda text: tokenizer(text)[0]),
        wds.to_tuple("image", "text"),
        wds.batched(batch, partial=False),
        wds.map(Stamp()),
    )
    loader = wds.WebLoader(pipeline, batch_size=None, shuffle=False, num_workers=workers)
    start_cpu, last_cpu = {}, {}
    images = 0
    it = iter(loader)
    for _ in range(warmup):
        _, _, (wid, cpu) = next(it)
        start_cpu[wid] = cpu
    main0, t0 = time.process_time(), time.perf_counter()
    for _ in range(batches):
        imgs, _, (wid, cpu) = next(it)
        images += imgs.shape[0]
        start_cpu.setdefault(wid, cpu)  # a worker not seen in warm-up: its first batch starts it
        last_cpu[wid] = cpu
    wall, main_cpu = time.perf_counter() - t0, time.process_time() - main0
    worker_cpu = sum(last_cpu[w] - start_cpu[w] for w in last_cpu)
    del it, loader
    out = {"images": images, "wall_s": wall, "cpu_s": main_cpu + worker_cpu, "workers": workers}
    out.update(breakdown(spec))
    print(json.dumps(out))


if __name__ == "__main__":
    {"make": make, "run": run}[sys.argv[1]](*sys.argv[2:])
