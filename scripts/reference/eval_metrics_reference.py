"""Reference metrics for tests/train/eval/eval_metrics_test.cpp.

Reads IN (safetensors: image, text, caption_image, zs_image, zs_labels, templates [C, T, E])
and writes OUT (safetensors) with the metrics computed the way GeoRSCLIP / CLIP_benchmark /
open_clip do, using a stable descending sort so ties are broken by lower index.
"""
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def hits_at_k(scores, positive, k):
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return positive.gather(1, order).any(dim=1).float().mean().item() * 100


def main():
    d = load_file(sys.argv[1])
    out = {}
    img, txt = F.normalize(d["image"], dim=-1), F.normalize(d["text"], dim=-1)
    scores = txt @ img.t()
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), d["caption_image"]] = True
    recalls = []
    for name, s, p in (("i2t", scores.t(), positive.t()), ("t2i", scores, positive)):
        for k in (1, 5, 10):
            out[f"{name}_r{k}"] = torch.tensor(hits_at_k(s, p, k), dtype=torch.float64)
            recalls.append(out[f"{name}_r{k}"])
    out["mean_recall"] = torch.stack(recalls).mean()

    templates = d["templates"]  # [C, T, E] raw text features
    out["classifier_georsclip"] = F.normalize(templates.mean(dim=1), dim=-1)
    out["classifier_open_clip"] = F.normalize(F.normalize(templates, dim=-1).mean(dim=1), dim=-1)
    logits = 100.0 * F.normalize(d["zs_image"], dim=-1) @ out["classifier_open_clip"].t()
    labels = d["zs_labels"]
    order = torch.sort(logits, dim=1, descending=True, stable=True).indices
    out["top1"] = torch.tensor((order[:, 0] == labels).float().mean().item() * 100, dtype=torch.float64)
    out["top5"] = torch.tensor((order[:, :5] == labels[:, None]).any(1).float().mean().item() * 100, dtype=torch.float64)
    save_file(out, sys.argv[2])


if __name__ == "__main__":
    main()
