"""Reference data for rsclip's image decoding and transforms (tests/data/*_test.cpp).

Writes into OUT_DIR:
  images/<name>.<ext>      generated test images: many sizes, modes and container variants
  reference.safetensors    what PIL 12 / open_clip 3.3 / torchvision 0.26 make of them:
    decode/<name>              uint8 [H, W, 3]   Image.open(f).convert("RGB")
    eval/<config>/<name>       uint8 [S, S, 3]   open_clip's eval transform up to convert("RGB"), i.e.
                                                 the picture ToTensor + Normalize turn into floats
    evalf/<config>/<name>      float32 [3, S, S] the whole eval transform, for a few cases
    train/<k>                  float32 [3, S, S] torchvision train steps with given parameters
  metadata (JSON strings): "cases" (name, file, PIL mode), "configs", "train" (parameters),
  "truncated" (file, cut, whether PIL decodes the truncated bytes)

Usage: image_reference.py OUT_DIR
"""

import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize
from torchvision.transforms import functional as F

from open_clip.transform import MaybeConvertMode, MaybeToTensor, image_transform

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def scene(h, w, seed):
    """A smooth-plus-edges-plus-noise RGB picture with saturated areas (bicubic overshoot)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for c in range(3):
        fx, fy = rng.uniform(0.02, 0.4, 2)
        img[..., c] = 128 + 70 * np.sin(x * fx + c) * np.cos(y * fy) + 60 * (x / max(w, 1) - 0.5)
    for _ in range(6):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = y0 + rng.integers(1, max(2, h // 2)), x0 + rng.integers(1, max(2, w // 2))
        img[y0:y1, x0:x1] = rng.choice([0, 255, 40, 200], 3)
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).round().astype(np.uint8)


# ---- a minimal PNG writer for variants PIL cannot save (16-bit colour, 2/4-bit grey, Adam7)
def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(rows_fn, width, height, depth, color, interlace=False, plte=None, trns=None):
    """rows_fn(y0, x0, dy, dx) -> list of packed row bytes of that (sub)image."""
    raw = b""
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]  # (y0, x0, dy, dx)
    for (y0, x0, dy, dx) in (passes if interlace else [(0, 0, 1, 1)]):
        if x0 >= width or y0 >= height:
            continue  # empty pass
        for row in rows_fn(y0, x0, dy, dx):
            raw += b"\x00" + row
    out = b"\x89PNG\r\n\x1a\n"
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += _chunk(b"PLTE", plte)
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    out += _chunk(b"IDAT", zlib.compress(raw, 6))
    return out + _chunk(b"IEND", b"")


def png_from_array(arr, depth, color, interlace=False, plte=None, trns=None):
    """arr: [H, W, C] unsigned ints already in the sample range of `depth`."""
    h, w = arr.shape[:2]
    arr = arr.reshape(h, w, -1)

    def rows(y0, x0, dy, dx):
        sub = arr[y0::dy, x0::dx]
        out = []
        for r in sub:
            flat = r.reshape(-1).astype(np.uint32)
            if depth == 16:
                out.append(flat.astype(">u2").tobytes())
            elif depth == 8:
                out.append(flat.astype(np.uint8).tobytes())
            else:
                per = 8 // depth
                pad = (-len(flat)) % per
                flat = np.concatenate([flat, np.zeros(pad, np.uint32)]).reshape(-1, per)
                shifts = np.array([8 - depth * (i + 1) for i in range(per)], np.uint32)
                out.append(((flat << shifts).sum(axis=1)).astype(np.uint8).tobytes())
        return out

    return png_bytes(rows, w, h, depth, color, interlace, plte, trns)


# ---- minimal BMP writers for variants PIL does not save (16-bit 5-6-5 bitfields, RLE8)
def bmp_565(rgb):
    h, w, _ = rgb.shape
    stride = (w * 2 + 3) & ~3
    pix = ((rgb[..., 0].astype(np.uint32) >> 3) << 11) | ((rgb[..., 1].astype(np.uint32) >> 2) << 5) | (rgb[..., 2] >> 3)
    data = b""
    for r in pix[::-1]:
        row = r.astype("<u2").tobytes()
        data += row + b"\x00" * (stride - len(row))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 16, 3, len(data), 2835, 2835, 0, 0)
    masks = struct.pack("<III", 0xF800, 0x7E0, 0x1F)
    off = 14 + 40 + 12
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + info + masks + data


def bmp_rle8(index, palette):
    h, w = index.shape
    data = b""
    for r in index[::-1]:  # bottom-up
        x = 0
        while x < w:
            run = 1
            while x + run < w and run < 255 and r[x + run] == r[x]:
                run += 1
            if run >= 3 or w - x < 3:
                data += bytes([run, int(r[x])])
                x += run
            else:  # absolute run of up to 8 distinct pixels
                n = min(8, w - x)
                n = max(n, 3)
                chunk = bytes(int(v) for v in r[x:x + n])
                data += bytes([0, n]) + chunk + (b"\x00" if n % 2 else b"")
                x += n
        data += b"\x00\x00"
    data += b"\x00\x01"
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(data), 2835, 2835, len(palette), 0)
    off = 14 + 40 + len(pal)
    return b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off) + info + pal + data


def pil_bytes(im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def make_cases():
    """(name, extension, bytes)."""
    cases = []
    seed = [100]

    def rgb(h, w):
        seed[0] += 1
        return scene(h, w, seed[0])

    def add(name, ext, data):
        cases.append((name, ext, data))

    def P(h, w, colors=200):
        return Image.fromarray(rgb(h, w)).quantize(colors)

    # JPEG: sizes, subsampling, progressive, grey, CMYK
    for (h, w) in [(1, 1), (13, 17), (64, 64), (193, 257), (256, 256), (600, 600), (90, 1000), (1000, 90), (375, 500)]:
        add(f"jpeg420_{w}x{h}", "jpg", pil_bytes(Image.fromarray(rgb(h, w)), "JPEG", quality=90, subsampling=2))
    for (h, w) in [(64, 64), (193, 257)]:
        add(f"jpeg444_{w}x{h}", "jpg", pil_bytes(Image.fromarray(rgb(h, w)), "JPEG", quality=95, subsampling=0))
        add(f"jpeg422_{w}x{h}", "jpg", pil_bytes(Image.fromarray(rgb(h, w)), "JPEG", quality=85, subsampling=1))
        add(f"jpegprog_{w}x{h}", "jpg", pil_bytes(Image.fromarray(rgb(h, w)), "JPEG", quality=80, progressive=True))
        add(f"jpegL_{w}x{h}", "jpg", pil_bytes(Image.fromarray(rgb(h, w)).convert("L"), "JPEG", quality=90))
        cmyk = np.concatenate([rgb(h, w), rgb(h, w)[..., :1]], axis=2)
        add(f"jpegCMYK_{w}x{h}", "jpg", pil_bytes(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90))
    add("jpeg_restart_300x200", "jpg", pil_bytes(Image.fromarray(rgb(200, 300)), "JPEG", quality=75, restart_marker_blocks=3))

    # PNG: every mode PIL writes, plus 16-bit colour, 2/4-bit grey, interlace, short palettes
    for (h, w) in [(1, 1), (13, 17), (64, 64), (256, 256), (193, 257), (90, 1000)]:
        add(f"pngRGB_{w}x{h}", "png", pil_bytes(Image.fromarray(rgb(h, w)), "PNG"))
    for (h, w) in [(64, 64), (193, 257)]:
        a = rgb(h, w)
        alpha = np.clip(rgb(h, w)[..., 0].astype(int) * 2 - 128, 0, 255).astype(np.uint8)  # 0, 255 and partial
        add(f"pngL_{w}x{h}", "png", pil_bytes(Image.fromarray(a).convert("L"), "PNG"))
        add(f"pngRGBA_{w}x{h}", "png", pil_bytes(Image.fromarray(np.dstack([a, alpha])), "PNG"))
        add(f"pngLA_{w}x{h}", "png", pil_bytes(Image.fromarray(np.dstack([a[..., 0], alpha]), "LA"), "PNG"))
        add(f"pngP_{w}x{h}", "png", pil_bytes(P(h, w), "PNG"))
        pt = P(h, w, 64)
        add(f"pngPtrns_{w}x{h}", "png", pil_bytes(pt, "PNG", transparency=bytes(range(0, 256, 4))))
        add(f"pngP4_{w}x{h}", "png", pil_bytes(P(h, w, 12), "PNG", bits=4))
        add(f"png1_{w}x{h}", "png", pil_bytes(Image.fromarray(a).convert("1"), "PNG"))
        g16 = (a[..., 0].astype(np.uint32) * 257 + a[..., 1] % 7).astype(np.uint16)
        add(f"pngI16_{w}x{h}", "png", pil_bytes(Image.fromarray(g16), "PNG"))
        g16low = (a[..., 0].astype(np.uint32) + a[..., 1]).astype(np.uint16)  # mostly below 256: I16 -> RGB clips
        add(f"pngI16low_{w}x{h}", "png", png_from_array(g16low, 16, 0))
        c16 = a.astype(np.uint32) * 257 + rgb(h, w) % 5
        add(f"pngRGB16_{w}x{h}", "png", png_from_array(c16, 16, 2))
        add(f"pngRGBA16_{w}x{h}", "png", png_from_array(np.dstack([c16, alpha.astype(np.uint32) * 257]), 16, 6))
        add(f"pngLA16_{w}x{h}", "png", png_from_array(np.dstack([c16[..., 0], alpha.astype(np.uint32) * 257]), 16, 4))
        add(f"pngL2_{w}x{h}", "png", png_from_array(a[..., 0] >> 6, 2, 0))
        add(f"pngL4_{w}x{h}", "png", png_from_array(a[..., 0] >> 4, 4, 0))
        add(f"pngAdam7_{w}x{h}", "png", png_from_array(a, 8, 2, interlace=True))
        add(f"pngAdam7P2_{w}x{h}", "png",
            png_from_array(a[..., 1] >> 6, 2, 3, interlace=True, plte=bytes([10, 20, 30, 200, 100, 0, 0, 255, 0, 9, 9, 9])))
        # 8-bit indices with a 5-entry palette: indices >= 5 are black in PIL
        add(f"pngPshort_{w}x{h}", "png", png_from_array(a[..., 2] >> 5, 8, 3, plte=bytes(range(15))))

    # WebP
    for (h, w) in [(64, 64), (193, 257), (1, 1)]:
        a = rgb(h, w)
        alpha = np.clip(rgb(h, w)[..., 0].astype(int) * 2 - 128, 0, 255).astype(np.uint8)
        add(f"webpLossy_{w}x{h}", "webp", pil_bytes(Image.fromarray(a), "WEBP", quality=80))
        add(f"webpLossless_{w}x{h}", "webp", pil_bytes(Image.fromarray(a), "WEBP", lossless=True))
        add(f"webpLossyA_{w}x{h}", "webp", pil_bytes(Image.fromarray(np.dstack([a, alpha])), "WEBP", quality=80))
        add(f"webpLosslessA_{w}x{h}", "webp", pil_bytes(Image.fromarray(np.dstack([a, alpha])), "WEBP", lossless=True))

    # TIFF
    for (h, w) in [(64, 64), (193, 257), (256, 256)]:
        a = rgb(h, w)
        im = Image.fromarray(a)
        alpha = np.clip(rgb(h, w)[..., 0].astype(int) * 2 - 128, 0, 255).astype(np.uint8)
        add(f"tiffRaw_{w}x{h}", "tif", pil_bytes(im, "TIFF"))
        add(f"tiffLZW_{w}x{h}", "tif", pil_bytes(im, "TIFF", compression="tiff_lzw"))
        add(f"tiffDeflate_{w}x{h}", "tif", pil_bytes(im, "TIFF", compression="tiff_adobe_deflate"))
        add(f"tiffPackbits_{w}x{h}", "tif", pil_bytes(im, "TIFF", compression="packbits"))
        add(f"tiffJPEG_{w}x{h}", "tif", pil_bytes(im, "TIFF", compression="jpeg", quality=90))
        add(f"tiffRGBA_{w}x{h}", "tif", pil_bytes(Image.fromarray(np.dstack([a, alpha])), "TIFF", compression="tiff_lzw"))
        add(f"tiffL_{w}x{h}", "tif", pil_bytes(im.convert("L"), "TIFF"))
        add(f"tiffLA_{w}x{h}", "tif", pil_bytes(Image.fromarray(np.dstack([a[..., 0], alpha]), "LA"), "TIFF"))
        add(f"tiff1_{w}x{h}", "tif", pil_bytes(im.convert("1"), "TIFF"))
        add(f"tiffP_{w}x{h}", "tif", pil_bytes(P(h, w), "TIFF"))
        add(f"tiffCMYK_{w}x{h}", "tif", pil_bytes(Image.fromarray(np.dstack([a, alpha]), "CMYK"), "TIFF"))
        add(f"tiffI16_{w}x{h}", "tif",
            pil_bytes(Image.fromarray((a[..., 0].astype(np.uint32) * 257).astype(np.uint16)), "TIFF"))

    # BMP
    for (h, w) in [(1, 1), (13, 17), (64, 64), (193, 257)]:
        a = rgb(h, w)
        add(f"bmpRGB_{w}x{h}", "bmp", pil_bytes(Image.fromarray(a), "BMP"))
    for (h, w) in [(64, 64), (193, 257)]:
        a = rgb(h, w)
        alpha = np.clip(rgb(h, w)[..., 0].astype(int) * 2 - 128, 0, 255).astype(np.uint8)
        add(f"bmpP_{w}x{h}", "bmp", pil_bytes(P(h, w), "BMP"))
        add(f"bmpL_{w}x{h}", "bmp", pil_bytes(Image.fromarray(a).convert("L"), "BMP"))
        add(f"bmp1_{w}x{h}", "bmp", pil_bytes(Image.fromarray(a).convert("1"), "BMP"))
        add(f"bmpRGBA_{w}x{h}", "bmp", pil_bytes(Image.fromarray(np.dstack([a, alpha])), "BMP"))
        add(f"bmp565_{w}x{h}", "bmp", bmp_565(a))
        q = P(h, w, 16)
        pal = np.array(q.getpalette()[:48]).reshape(16, 3)
        add(f"bmpRLE8_{w}x{h}", "bmp", bmp_rle8(np.array(q), pal))
    return cases


def eval_configs():
    """name -> (size, transform)."""
    def oc(size=224, mode="shortest", interp="bicubic", fill=0):
        return image_transform(size, False, MEAN, STD, resize_mode=mode, interpolation=interp, fill_color=fill)

    nearest = Compose([Resize(224, interpolation=InterpolationMode.NEAREST), CenterCrop(224), MaybeConvertMode(),
                       MaybeToTensor(), Normalize(MEAN, STD)])
    return {
        "shortest_bicubic_224": (224, oc()),
        "shortest_bilinear_224": (224, oc(interp="bilinear")),
        "shortest_nearest_224": (224, nearest),
        "longest_bicubic_224": (224, oc(mode="longest")),
        "longest_fill77_224": (224, oc(mode="longest", fill=77)),
        "squash_bicubic_224": (224, oc(mode="squash")),
        "shortest_bicubic_96": (96, oc(size=96)),
    }


def train_reference(cases_dir, rng):
    """torchvision/PIL train steps with explicit parameters."""
    out, params = {}, []
    files = ["jpeg420_257x193.jpg", "pngRGB_256x256.png", "jpeg420_600x600.jpg", "pngRGB_17x13.png", "tiffRaw_64x64.tif"]
    for k in range(24):
        f = files[k % len(files)]
        img = Image.open(cases_dir / f).convert("RGB")
        w, h = img.size
        s = int(rng.choice([224, 96]))
        ch = int(rng.integers(max(1, h // 2), h + 1))
        cw = int(rng.integers(max(1, w // 2), w + 1))
        i, j = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        flipped = bool(rng.integers(0, 2))
        angle = [0.0, 90.0, 180.0, 270.0, 45.0][k] if k < 5 else float(rng.uniform(0, 360))
        jitter = [float(v) for v in rng.uniform(0.6, 1.4, 3)] if k % 3 == 0 else [1.0, 1.0, 1.0]
        order = [int(v) for v in rng.permutation(3)]
        x = F.resized_crop(img, i, j, ch, cw, [s, s], InterpolationMode.BICUBIC)
        adjust = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation]
        for which in order:
            x = adjust[which](x, jitter[which])
        if flipped:
            x = F.hflip(x)
        x = F.rotate(x, angle, InterpolationMode.NEAREST, expand=False, center=None, fill=0)
        t = F.normalize(F.to_tensor(x), MEAN, STD)
        out[f"train/{k}"] = t.contiguous()
        params.append(dict(file=f, size=s, top=i, left=j, height=ch, width=cw, flipped=flipped, angle=angle,
                           jitter=jitter, order=order))
    return out, params


# The images every config runs on (the main config runs on all), and where the float output
# (ToTensor + Normalize) is stored too.
SUBSET = {"jpeg420_257x193", "jpegL_257x193", "jpegCMYK_257x193", "pngRGBA_257x193", "pngLA_257x193",
          "pngP_257x193", "png1_257x193", "pngI16_257x193", "pngI16low_257x193", "pngLA16_257x193", "tiffCMYK_257x193",
          "webpLossyA_257x193", "jpeg420_1000x90", "jpeg420_90x1000", "pngRGB_1000x90", "jpeg420_1x1"}
FLOAT_CHECKS = {("shortest_bicubic_224", "jpeg420_257x193"), ("shortest_bicubic_224", "pngRGB_256x256"),
                ("longest_fill77_224", "jpeg420_1000x90"), ("shortest_bicubic_96", "pngRGBA_257x193")}


def main():
    out_dir = Path(sys.argv[1])
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    tensors, meta_cases = {}, []
    for name, ext, data in make_cases():
        path = images / f"{name}.{ext}"
        path.write_bytes(data)
        with Image.open(path) as im:
            mode = im.mode
            rgb = im.convert("RGB")
        tensors[f"decode/{name}"] = torch.from_numpy(np.array(rgb, dtype=np.uint8).copy())
        meta_cases.append(dict(name=name, file=path.name, mode=mode))
    configs = eval_configs()
    for cname, (size, tf) in configs.items():
        steps = Compose(tf.transforms[:-2])  # up to convert("RGB"): the 8-bit picture ToTensor sees
        for case in meta_cases:
            if cname != "shortest_bicubic_224" and case["name"] not in SUBSET:
                continue
            with Image.open(images / case["file"]) as im:
                tensors[f"eval/{cname}/{case['name']}"] = torch.from_numpy(np.array(steps(im), dtype=np.uint8).copy())
                if (cname, case["name"]) in FLOAT_CHECKS:
                    tensors[f"evalf/{cname}/{case['name']}"] = tf(im).contiguous()
    train, params = train_reference(images, np.random.default_rng(7))
    tensors.update(train)
    # Truncated files: does PIL decode them?
    truncated = []
    for case in meta_cases:
        data = (images / case["file"]).read_bytes()
        for frac in (0.2, 0.5, 0.9, 0.99):
            cut = max(1, int(len(data) * frac))
            try:
                with Image.open(io.BytesIO(data[:cut])) as im:
                    im.convert("RGB")
                ok = True
            except Exception:  # noqa: BLE001 - any PIL failure counts as "PIL cannot decode"
                ok = False
            truncated.append(dict(file=case["file"], cut=cut, pil_ok=ok))
    meta = {
        "cases": json.dumps(meta_cases),
        "configs": json.dumps({k: v[0] for k, v in configs.items()}),
        "train": json.dumps(params),
        "truncated": json.dumps(truncated),
    }
    save_file(tensors, str(out_dir / "reference.safetensors"), metadata=meta)
    print(f"{len(meta_cases)} images, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
