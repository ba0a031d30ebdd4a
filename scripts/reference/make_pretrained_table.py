"""Writes configs/pretrained.json: open_clip's pretrained table (model -> tag -> where the
weights live), for rsclip's offline `--pretrained TAG` (models/io/pretrained.h).

    .venv/bin/python scripts/reference/make_pretrained_table.py > configs/pretrained.json

From open_clip.pretrained (open-clip-torch as pinned in scripts/requirements.lock), per tag:
  hf_hub       "ORG/REPO/" (weights open_clip_model.safetensors or open_clip_pytorch_model.bin)
               or "ORG/REPO/FILE"
  url          a direct download (open_clip caches it under ~/.cache/clip/ by its file name)
  quick_gelu   the tag's weights need QuickGELU
plus the GeoRSCLIP releases (tag `georsclip`: a plain state dict file RS5M_<model>.pt; the
ViT-B-32 one was fine-tuned from OpenAI's QuickGELU weights).
"""
import json

import open_clip
from open_clip import pretrained

table = {"source": f"open_clip {open_clip.__version__} pretrained table, and the GeoRSCLIP releases", "models": {}}
for model, tag in pretrained.list_pretrained():
    cfg = pretrained.get_pretrained_cfg(model, tag)
    entry = {k: cfg[k] for k in ("hf_hub", "url") if cfg.get(k)}
    if cfg.get("quick_gelu"):
        entry["quick_gelu"] = True
    table["models"].setdefault(model, {})[tag] = entry
for model, quick_gelu in (("ViT-B-32", True), ("ViT-L-14", False), ("ViT-H-14", False)):
    entry = {"file": f"RS5M_{model}.pt", "hf_hub": f"Zilun/GeoRSCLIP/ckpt/RS5M_{model}.pt"}
    if quick_gelu:
        entry["quick_gelu"] = True
    table["models"][model]["georsclip"] = entry
print(json.dumps(table, indent=1, sort_keys=True))
