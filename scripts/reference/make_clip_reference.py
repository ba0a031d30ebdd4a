"""Reference dump for the CLIP tower parity tests (tests/models/clip/clip_reference_test.cpp).

Builds a random-weight open_clip model from an open_clip config JSON (optionally with fewer
layers), perturbs every parameter (biases and LayerNorm gains too, which open_clip's init
leaves at 0/1, so they are exercised), and writes to OUT/:
  config.json          the config actually used (layers reduced if asked)
  model.safetensors    the state dict
  model.pt             the same via torch.save (for the .pt loader)
  io.safetensors       pixels, tokens and encode_image / encode_text outputs in fp32 and
                       under CPU bf16 autocast
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

from open_clip.model import CLIP, CustomTextCLIP


def build(cfg):
    cfg = dict(cfg)
    custom_text = cfg.pop("custom_text", False)
    return (CustomTextCLIP if custom_text else CLIP)(**cfg)


def random_tokens(gen, n, context, vocab):
    tokens = torch.zeros(n, context, dtype=torch.long)
    for i in range(n):
        length = int(torch.randint(1, context - 1, (1,), generator=gen))  # EOT position
        tokens[i, 0] = vocab - 2  # <start_of_text>
        tokens[i, 1:length] = torch.randint(1, vocab - 2, (length - 1,), generator=gen)
        tokens[i, length] = vocab - 1  # <end_of_text>: the largest id, argmax pooling
    return tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=0, help="reduce both towers to this many blocks")
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--texts", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    cfg = json.load(open(args.config))
    if args.layers:
        cfg["vision_cfg"]["layers"] = args.layers
        cfg["text_cfg"]["layers"] = args.layers
    torch.manual_seed(args.seed)
    model = build(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim < 2 or name.endswith("bias"):
                p.add_(0.05 * torch.randn_like(p))
    json.dump(cfg, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.out, "model.safetensors"))
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))

    gen = torch.Generator().manual_seed(args.seed + 1)
    size = model.visual.image_size[0]
    pixels = torch.randn(args.images, 3, size, size, generator=gen)
    tokens = random_tokens(gen, args.texts, model.context_length, model.vocab_size)
    io = {"pixels": pixels, "tokens": tokens}
    with torch.no_grad():
        io["image_features"] = model.encode_image(pixels)
        io["text_features"] = model.encode_text(tokens)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            io["image_features_bf16"] = model.encode_image(pixels).float()
            io["text_features_bf16"] = model.encode_text(tokens).float()
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(args.out, "io.safetensors"))
    print(f"wrote {args.out}: {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    main()
