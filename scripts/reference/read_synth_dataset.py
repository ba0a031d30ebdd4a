"""Reads an `rsclip synth` dataset with the Python stack the way its users will.

Training shards through webdataset (RS5M layout: img_content / img_name / caption) and
tarfile (member metadata), the zero-shot set through torchvision's ImageFolder, the caption
set as Karpathy-style JSON (RSICD's dataset_rsicd.json layout), every image through PIL.
Prints one JSON document for tests/data/synth/synth_dataset_reference_test.cpp to compare.

usage: read_synth_dataset.py DATASET_DIR
"""
import glob
import io
import json
import os
import sys
import tarfile

import webdataset as wds
from PIL import Image
from torchvision.datasets import ImageFolder


def image_info(data):
    img = Image.open(io.BytesIO(data))
    img.load()
    return {"size": list(img.size), "mode": img.mode, "format": img.format}


def main(root):
    shards = sorted(glob.glob(os.path.join(root, "train", "synth-train-*.tar")))
    out = {"shards": [os.path.basename(s) for s in shards]}

    members = []
    for shard in shards:
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                members.append({"shard": os.path.basename(shard), "name": m.name, "size": m.size, "mode": m.mode,
                                "mtime": m.mtime, "uid": m.uid, "gid": m.gid, "uname": m.uname, "gname": m.gname,
                                "regular": m.isreg()})
    out["tar_members"] = members

    samples = []
    for sample in wds.WebDataset(shards, shardshuffle=False):
        info = image_info(sample["img_content"])
        samples.append({"key": sample["__key__"], "url": os.path.basename(sample["__url__"]),
                        "fields": sorted(k for k in sample if not k.startswith("__")),
                        "img_name": sample["img_name"].decode("utf-8"), "caption": sample["caption"].decode("utf-8"),
                        **info})
    out["samples"] = samples
    with open(os.path.join(root, "train", "sizes.json")) as f:
        out["sizes"] = json.load(f)

    folder = ImageFolder(os.path.join(root, "test", "imagefolder"))
    counts = {name: 0 for name in folder.classes}
    for _, target in folder.samples:
        counts[folder.classes[target]] += 1
    sizes = sorted({tuple(image_info(open(path, "rb").read())["size"]) for path, _ in folder.samples})
    out["imagefolder"] = {"classes": folder.classes, "counts": counts, "image_sizes": [list(s) for s in sizes],
                          "zero_shot_names": [c.replace("_", " ").replace("/", " ").lower() for c in folder.classes]}

    with open(os.path.join(root, "test", "captions.json")) as f:
        data = json.load(f)
    images = []
    for entry in data["images"]:
        path = os.path.join(root, "test", entry["filepath"], entry["filename"])
        images.append({"filename": entry["filename"], "split": entry["split"], "imgid": entry["imgid"],
                       "sentids": entry["sentids"], "raw": [s["raw"] for s in entry["sentences"]],
                       "sentence_sentids": [s["sentid"] for s in entry["sentences"]],
                       "tokens": [s["tokens"] for s in entry["sentences"]], **image_info(open(path, "rb").read())})
    out["captions"] = {"top_level_keys": sorted(data), "images": images}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
