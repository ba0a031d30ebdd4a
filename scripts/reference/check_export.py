"""Shows that open_clip loads an `rsclip export` directory strict=True and computes rsclip's
embeddings.

open_clip.create_model_and_transforms("local-dir:DIR") builds the model from
DIR/open_clip_config.json and loads the weights (strict=True); load_checkpoint(strict=True)
also reads DIR/open_clip_pytorch_model.bin. A few images (PIL + the export's eval transform)
and captions (open_clip's tokenizer) are encoded by open_clip and by `rsclip encode` on the
same directory. Exit status 1 if they differ beyond float noise.

With --hub ORG/NAME the directory is also a snapshot in a Hugging Face cache (HF_HUB_CACHE,
offline): open_clip loads "hf-hub:ORG/NAME" and rsclip encodes "--checkpoint hf-hub:ORG/NAME",
as after an upload.

usage: check_export.py --dir DIR --rsclip build/rsclip --images A.jpg B.jpg ... --texts "..." ...
                       [--hub ORG/NAME]
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
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rsclip", required=True)
    ap.add_argument("--images", nargs="+", required=True)
    ap.add_argument("--texts", nargs="+", required=True)
    ap.add_argument("--hub")
    a = ap.parse_args()
    name = "hf-hub:" + a.hub if a.hub else "local-dir:" + a.dir
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    bin_path = os.path.join(a.dir, "open_clip_pytorch_model.bin")
    incompatible = open_clip.load_checkpoint(model, bin_path, strict=True)
    model.eval()
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
        source = ["--checkpoint", "hf-hub:" + a.hub] if a.hub else ["--model", a.dir, "--checkpoint", a.dir]
        subprocess.run([a.rsclip, "encode", *source, "--device", "cpu",
                        "--pixels", os.path.join(tmp, "pixels.safetensors"),
                        "--tokens", os.path.join(tmp, "tokens.safetensors"), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        got = load_file(out)

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    ri, rt = rel(got["image_features"], image_ref), rel(got["text_features"], text_ref)
    print(f"open_clip {open_clip.__version__} loaded {name} and open_clip_pytorch_model.bin with "
          f"strict=True ({len(model.state_dict())} tensors, nothing missing or unexpected: {incompatible})")
    print(f"rsclip vs open_clip embeddings of {len(a.images)} images / {len(a.texts)} captions: "
          f"max relative difference {ri:.1e} (image), {rt:.1e} (text)")
    if max(ri, rt) > 1e-4:
        print("MISMATCH", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
