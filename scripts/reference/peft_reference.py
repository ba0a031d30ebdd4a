"""open_clip side of the PEFT reference tests (tests/models/peft/peft_reference_test.cpp).

  lora-export --dir D
      Builds open_clip.model.CLIP(**D/config.json), loads D/merged.safetensors (rsclip's
      merged LoRA export) with strict=True, and writes encode_image / encode_text of
      D/io.safetensors' pixels and tokens to D/open_clip_features.safetensors.

  lock-names --config C --out F --settings '[[N, M], ...]'
      For each setting builds the model, applies open_clip's
      lock_image_tower(unlocked_groups=N) (unless N is null) and
      lock_text_tower(unlocked_layers=M) (unless M is null), and writes to F a JSON list with,
      per setting, the names that still require grad in named_parameters order.
"""
import argparse
import json
import os

import torch
from safetensors.torch import load_file, save_file

from open_clip.model import CLIP


def lora_export(args):
    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    model = CLIP(**cfg).eval()
    state = load_file(os.path.join(args.dir, "merged.safetensors"))
    model.load_state_dict(state, strict=True)  # raises on any missing / unexpected / mis-shaped key
    io = load_file(os.path.join(args.dir, "io.safetensors"))
    with torch.no_grad():
        out = {
            "image_features": model.encode_image(io["pixels"]).contiguous(),
            "text_features": model.encode_text(io["tokens"]).contiguous(),
        }
    save_file(out, os.path.join(args.dir, "open_clip_features.safetensors"))
    print(f"open_clip loaded {len(state)} tensors strictly")


def lock_names(args):
    cfg = json.load(open(args.config))
    result = []
    for image, text in json.loads(args.settings):
        model = CLIP(**cfg)
        if image is not None:
            model.lock_image_tower(unlocked_groups=image)
        if text is not None:
            model.lock_text_tower(unlocked_layers=text)
        result.append([n for n, p in model.named_parameters() if p.requires_grad])
    json.dump(result, open(args.out, "w"))
    print(f"{len(result)} lock settings")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("lora-export")
    a.add_argument("--dir", required=True)
    b = sub.add_parser("lock-names")
    b.add_argument("--config", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--settings", required=True, help="JSON list of [image_groups|null, text_layers|null]")
    args = ap.parse_args()
    {"lora-export": lora_export, "lock-names": lock_names}[args.cmd](args)


if __name__ == "__main__":
    main()
