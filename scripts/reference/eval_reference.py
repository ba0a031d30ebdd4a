"""open_clip side of `rsclip eval` (tests/train/eval/eval_reference_test.cpp, scripts/bench_eval.sh).

The GeoRSCLIP evaluation protocol written as a plain open_clip loop:
  zero-shot  torchvision ImageFolder (PIL loader) + open_clip's eval transform; class names =
             folder names with '_' and '/' as spaces, lower-cased; the 105 templates of
             configs/templates/rs_zeroshot.txt; classifier rows by either ensemble rule
             (georsclip: mean of the raw template embeddings, then L2-normalise; open_clip:
             normalise each, mean, normalise); logits = 100 * normalize(img) @ W.T; top-1,
             top-5, per-class top-1 and its mean over the classes present.
  retrieval  Karpathy JSON (split filter, captions grouped per image, image path =
             JSON folder / filepath / filename); scores = normalize(txt) @ normalize(img).T;
             I2T / T2I R@1/5/10 (a query hits at K when any correct item is in its top K)
             and mR = their mean.
Ranks use a stable descending sort (ties go to the lower index), the rule of
train/eval/eval_metrics.h. Encoding is batched exactly as rsclip does it (--batch-size rows per
forward; texts of one class's templates together). The output JSON has the layout and the
rounding (percent, 2 decimals, half away from zero) of `rsclip eval --out`.

--encode-images DIR|LIST / --encode-texts FILE with --features-out OUT: instead of the
metrics, the features `rsclip encode --images/--texts` writes (same inputs, same order,
un-normalised fp32), with the same `names` / `image_names` + `text_names` metadata.

--make-init first writes a random-weight init of the model to --checkpoint
(torch.manual_seed(--seed), open_clip.create_model, small params perturbed so biases and
LayerNorms are exercised) and then evaluates it.
"""
import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from torchvision.datasets import ImageFolder

import open_clip

ROOT = Path(__file__).resolve().parents[2]


def round2(v):
    # C++ std::round(v * 100) / 100: half away from zero (v >= 0 here).
    x = v * 100.0
    r = math.floor(x)
    return (r + 1 if x - r >= 0.5 else r) / 100.0


def set_name(path):
    return Path(path).stem


def stable_rank(scores, target):
    """Position of item target[q] in row q under a stable descending sort (0 = best)."""
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    return (order == target[:, None]).int().argmax(dim=1)


def encode_batched(fn, x, batch):
    return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)])


def load_images(paths, preprocess):
    # torchvision's pil_loader: open, convert("RGB"); then open_clip's eval transform.
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(preprocess(Image.open(f).convert("RGB")))
    return torch.stack(out)


def zeroshot(model, tokenizer, preprocess, root, templates, ensemble, batch):
    ds = ImageFolder(root, is_valid_file=lambda p: p.lower().endswith(IMAGE_EXTENSIONS))
    classes = [c.replace("_", " ").replace("/", " ").lower() for c in ds.classes]
    rows = []
    for c in classes:
        tokens = tokenizer([t.replace("{}", c, 1) for t in templates])
        emb = encode_batched(model.encode_text, tokens, batch)
        rows.append(emb.mean(0) if ensemble == "georsclip" else F.normalize(emb, dim=-1).mean(0))
    classifier = F.normalize(torch.stack(rows), dim=-1)
    images = load_images([p for p, _ in ds.samples], preprocess)
    features = encode_batched(model.encode_image, images, batch)
    labels = torch.tensor(ds.targets, dtype=torch.long)
    logits = 100.0 * F.normalize(features, dim=-1) @ F.normalize(classifier, dim=-1).t()
    rank = stable_rank(logits, labels)
    per_class, total, present = {}, 0.0, 0
    for c, folder in enumerate(ds.classes):
        mask = labels == c
        acc = 100.0 * (rank[mask] < 1).double().mean().item() if mask.any() else 0.0
        per_class[folder] = round2(acc)
        if mask.any():
            total += acc
            present += 1
    return {"top1": round2(100.0 * (rank < 1).double().mean().item()),
            "top5": round2(100.0 * (rank < 5).double().mean().item()),
            "mean_per_class": round2(total / present if present else 0.0),
            "samples": len(labels), "per_class": per_class}


def retrieval(model, tokenizer, preprocess, path, split, batch):
    doc = json.load(open(path, encoding="utf-8"))
    root = Path(path).parent
    images, captions, caption_image = [], [], []
    for img in doc["images"]:
        if split and img.get("split", "") != split:
            continue
        for s in img["sentences"]:
            captions.append(s["raw"])
            caption_image.append(len(images))
        images.append(root / img.get("filepath", "") / img["filename"])
    img_f = F.normalize(encode_batched(model.encode_image, load_images(images, preprocess), batch), dim=-1)
    txt_f = F.normalize(encode_batched(model.encode_text, tokenizer(captions), batch), dim=-1)
    scores = txt_f @ img_f.t()  # [T, I]
    target = torch.tensor(caption_image, dtype=torch.long)
    t2i = stable_rank(scores, target)
    i2t_all = stable_rank(scores.t()[target], torch.arange(len(captions)))
    i2t = torch.full((len(images),), len(captions), dtype=torch.long).scatter_reduce(0, target, i2t_all, "amin")

    def recall(rank, k):
        return 100.0 * (rank < k).double().mean().item()

    r = [recall(i2t, 1), recall(i2t, 5), recall(i2t, 10), recall(t2i, 1), recall(t2i, 5), recall(t2i, 10)]
    keys = ["i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"]
    out = {k: round2(v) for k, v in zip(keys, r)}
    out.update({"mR": round2((r[0] + r[1] + r[2] + r[3] + r[4] + r[5]) / 6.0), "images": len(images),
                "captions": len(captions)})
    return out


# rsclip reads what torchvision's ImageFolder lists except Netpbm (.ppm, .pgm): rsclip does not decode it.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def image_inputs(dir_or_list):
    """rsclip encode --images: a folder's image files (recursive, sorted by path components),
    or a list file's non-blank lines (relative to the list's folder)."""
    if os.path.isdir(dir_or_list):
        files = [Path(r) / f for r, _, fs in os.walk(dir_or_list) for f in fs if f.lower().endswith(IMAGE_EXTENSIONS)]
        return [str(p) for p in sorted(files)]
    base = Path(dir_or_list).parent
    lines = open(dir_or_list, encoding="utf-8").read().split("\n")
    return [str(base / ln.rstrip("\r")) for ln in lines if ln.strip(" \t\r")]


def read_texts(path):
    lines = open(path, encoding="utf-8", newline="").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def encode_files(model, tokenizer, preprocess, a):
    tensors, names = {}, {}
    if a.encode_images:
        files = image_inputs(a.encode_images)
        tensors["image_features"] = encode_batched(model.encode_image, load_images(files, preprocess), a.batch_size)
        names["image_names"] = files
    if a.encode_texts:
        texts = read_texts(a.encode_texts)
        tensors["text_features"] = encode_batched(model.encode_text, tokenizer(texts), a.batch_size)
        names["text_names"] = texts
    if len(names) == 1:
        names = {"names": next(iter(names.values()))}
    save_file({k: v.contiguous() for k, v in tensors.items()}, a.features_out,
              metadata={k: json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in names.items()})


def make_init(model, path, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim < 2 or name.endswith("bias"):
                p.add_(0.05 * torch.randn_like(p))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="open_clip model name or config .json (registered by stem)")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--make-init", action="store_true", help="write a random init to --checkpoint first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zeroshot", action="append", default=[])
    ap.add_argument("--retrieval", action="append", default=[])
    ap.add_argument("--split", default="test")
    ap.add_argument("--templates", default=str(ROOT / "configs/templates/rs_zeroshot.txt"))
    ap.add_argument("--ensemble", default="georsclip", choices=["georsclip", "open_clip"])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--encode-images", help="DIR or LIST: write features instead of metrics")
    ap.add_argument("--encode-texts", help="FILE, one text per line: write features instead of metrics")
    ap.add_argument("--features-out", help="safetensors output of --encode-images/--encode-texts")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    name = a.model
    if name.endswith(".json"):
        open_clip.add_model_config(name)
        name = Path(name).stem
    start = time.perf_counter()
    if a.make_init:
        torch.manual_seed(a.seed)
        make_init(open_clip.create_model(name), a.checkpoint, a.seed + 1)
        start = time.perf_counter()
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=a.checkpoint)
    model.eval()
    tokenizer = open_clip.get_tokenizer(name)
    templates = [t.rstrip("\r") for t in open(a.templates, encoding="utf-8").read().split("\n") if t.rstrip("\r")]
    if a.features_out:
        with torch.no_grad():
            encode_files(model, tokenizer, preprocess, a)
        return
    results = {"zeroshot": {}, "retrieval": {}}
    with torch.no_grad():
        for d in a.zeroshot:
            results["zeroshot"][set_name(d)] = zeroshot(model, tokenizer, preprocess, d, templates, a.ensemble,
                                                        a.batch_size)
        for f in a.retrieval:
            results["retrieval"][set_name(f)] = retrieval(model, tokenizer, preprocess, f, a.split, a.batch_size)
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    print(f"eval seconds: {time.perf_counter() - start:.3f} ({torch.get_num_threads()} threads)", flush=True)
    if a.out:
        with open(a.out + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(a.out + ".tmp", a.out)


if __name__ == "__main__":
    main()
