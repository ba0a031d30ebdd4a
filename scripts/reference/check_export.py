"""Shows that open_clip loads an `rsclip export` strict=True and computes rsclip's embeddings.

Builds the model from the exported config with open_clip, loads the exported weights with
open_clip.load_checkpoint(strict=True), preprocesses a few images (PIL + open_clip's eval
transform) and captions (open_clip's tokenizer), writes them for `rsclip encode`, and compares
open_clip's features with rsclip's. Exit status 1 if they differ beyond float noise.

usage: check_export.py --weights OUT.bin --rsclip build/rsclip --images A.jpg B.jpg ... --texts "..." ...
(the model config is OUT.json beside the weights, as rsclip export writes it)
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
from PIL import Image
from safetensors.torch import load_file, save_file

import open_clip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--rsclip", required=True)
    ap.add_argument("--images", nargs="+", required=True)
    ap.add_argument("--texts", nargs="+", required=True)
    a = ap.parse_args()
    config = os.path.splitext(a.weights)[0] + ".json"
    open_clip.add_model_config(config)
    name = os.path.splitext(os.path.basename(config))[0]
    model = open_clip.create_model(name, pretrained=None)
    incompatible = open_clip.load_checkpoint(model, a.weights, strict=True)
    model.eval()
    preprocess = open_clip.image_transform(model.visual.image_size, is_train=False)
    tokenizer = open_clip.get_tokenizer(name)
    pixels = torch.stack([preprocess(Image.open(p)) for p in a.images])
    tokens = tokenizer(a.texts)
    with torch.no_grad():
        image_ref = model.encode_image(pixels)
        text_ref = model.encode_text(tokens)
    with tempfile.TemporaryDirectory() as tmp:
        save_file({"pixels": pixels.contiguous()}, os.path.join(tmp, "pixels.safetensors"))
        save_file({"tokens": tokens.contiguous()}, os.path.join(tmp, "tokens.safetensors"))
        out = os.path.join(tmp, "features.safetensors")
        subprocess.run([a.rsclip, "encode", "--model", config, "--checkpoint", a.weights, "--device", "cpu",
                        "--pixels", os.path.join(tmp, "pixels.safetensors"),
                        "--tokens", os.path.join(tmp, "tokens.safetensors"), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        got = load_file(out)

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    ri, rt = rel(got["image_features"], image_ref), rel(got["text_features"], text_ref)
    print(f"open_clip {open_clip.__version__} loaded {os.path.basename(a.weights)} with strict=True "
          f"({len(model.state_dict())} tensors, nothing missing or unexpected: {incompatible})")
    print(f"rsclip vs open_clip embeddings of {len(a.images)} images / {len(a.texts)} captions: "
          f"max relative difference {ri:.1e} (image), {rt:.1e} (text)")
    if max(ri, rt) > 1e-4:
        print("MISMATCH", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
