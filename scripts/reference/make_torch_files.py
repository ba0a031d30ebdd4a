"""Writes torch.save / torch.jit.save files and what open_clip reads from them, for
tests/core/io/checkpoint_reader_reference_test.cpp.

usage: make_torch_files.py OUT_DIR

For every NAME.pt written here:
  NAME.pt                    the file as torch.save / torch.jit.save writes it
  NAME.expected.safetensors  open_clip.factory.load_state_dict(NAME.pt), tensors made
                             contiguous (safetensors cannot hold views)
  NAME.expected.json         {"keys": [...in order...], "layout": {key: [offset, stride,
                             storage group]}} so the C++ side can check views and sharing
Plus py_written.safetensors (safetensors.torch.save_file) for the C++ safetensors reader,
and checkpoint.optimizer.safetensors / checkpoint.json for read_torch_file's general path.
"""

import collections
import io
import json
import math
import os
import pickle
import sys
import warnings
import zipfile

import torch
from open_clip.factory import load_state_dict
from safetensors.torch import save_file
from torch import nn


class Tiny(nn.Module):
    """Parameters, a persistent and a non-persistent buffer, nested children."""

    def __init__(self, with_openai_extras=False):
        super().__init__()
        self.with_openai_extras = with_openai_extras
        self.proj = nn.Linear(6, 4)
        self.ln = nn.LayerNorm(4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.register_buffer("scale", torch.tensor([1.5, -2.0]))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        if with_openai_extras:
            # OpenAI's TorchScript CLIP carries these in its state dict; open_clip drops them.
            self.register_buffer("input_resolution", torch.tensor(224))
            self.register_buffer("context_length", torch.tensor(77))
            self.register_buffer("vocab_size", torch.tensor(49408))
            # What else its module tree holds: a plain tensor attribute (OpenAI's attn_mask:
            # not in the state dict), multi-head attention, a Sequential, a Linear without
            # bias, int and list attributes.
            self.attn_mask = torch.full((3, 3), float("-inf")).triu(1)
            self.attn = nn.MultiheadAttention(4, 2)
            self.mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
            self.no_bias = nn.Linear(4, 4, bias=False)
            self.layers = 2
            self.widths = [4, 8]
        else:
            self.attn_mask = torch.zeros(3, 3)
            self.attn = nn.Identity()
            self.mlp = nn.Identity()
            self.no_bias = nn.Identity()

    def forward(self, x):
        x = self.ln(self.proj(x))
        for b in self.blocks:
            x = b(x)
        x = self.no_bias(self.mlp(x))
        return x * self.scale[0] * self.logit_scale.exp() + self.scratch.sum() + self.attn_mask[0, 0].clamp(min=0)


def storage_groups(sd):
    groups, layout = {}, {}
    for k, v in sd.items():
        ptr = v.untyped_storage().data_ptr()
        layout[k] = [v.storage_offset(), list(v.stride()), groups.setdefault(ptr, len(groups))]
    return layout


def write_expected(out, name):
    # torch.load refuses TorchScript with weights_only=True; open_clip's OpenAI path
    # loads those trusted archives with weights_only=False.
    path = os.path.join(out, name + ".pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = load_state_dict(path, weights_only=not name.startswith("scripted"))
    save_file({k: v.detach().clone().contiguous() for k, v in sd.items()},
              os.path.join(out, name + ".expected.safetensors"))
    with open(os.path.join(out, name + ".expected.json"), "w") as f:
        json.dump({"keys": list(sd.keys()), "layout": storage_groups(sd)}, f)


STORAGE_ELEMENT_SIZE = {"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
                        "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1,
                        "ByteStorage": 1, "BoolStorage": 1}


def storage_element_sizes(pkl):
    """storage key -> element size, from the persistent ids in a data.pkl."""
    sizes = {}

    class Scanner(pickle.Unpickler):
        def find_class(self, module, name):
            if name in STORAGE_ELEMENT_SIZE:
                return name
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            return lambda *args: None

        def persistent_load(self, pid):
            sizes[pid[2]] = STORAGE_ELEMENT_SIZE[pid[1]]

    Scanner(io.BytesIO(pkl)).load()
    return sizes


def big_endian_copy(src, dst):
    """The same archive with byteorder 'big' and every storage byte-swapped: what
    torch.save writes on a big-endian machine (torch.load swaps it back)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        pkl = zin.read(next(n for n in zin.namelist() if n.endswith("/data.pkl")))
        sizes = storage_element_sizes(pkl)
        for info in zin.infolist():
            data = zin.read(info.filename)
            rel = info.filename.split("/", 1)[1]
            if rel == "byteorder":
                data = b"big"
            elif rel.startswith("data/") and len(data) > 0:
                swapped = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(-1, sizes[rel[5:]]).flip(1)
                data = swapped.contiguous().numpy().tobytes()
            zout.writestr(info.filename, data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    model = Tiny()
    sd = model.state_dict()  # carries _metadata: exercises BUILD on the OrderedDict
    torch.save(sd, os.path.join(out, "plain_fp32.pt"))

    g = torch.Generator().manual_seed(7)
    dtypes = collections.OrderedDict()
    dtypes["f16"] = torch.randn(3, 5, generator=g).half()
    dtypes["bf16"] = torch.randn(4, 2, generator=g).bfloat16()
    dtypes["f64"] = torch.randn(7, generator=g).double()
    dtypes["i64"] = torch.randint(-(2**40), 2**40, (2, 3), generator=g)
    dtypes["i32"] = torch.randint(-(2**30), 2**30, (5,), generator=g).int()
    dtypes["i16"] = torch.randint(-3000, 3000, (4,), generator=g).short()
    dtypes["i8"] = torch.randint(-100, 100, (4,), generator=g).char()
    dtypes["u8"] = torch.randint(0, 255, (6,), generator=g).byte()
    dtypes["bool"] = torch.rand(5, generator=g) > 0.5
    dtypes["scalar"] = torch.tensor(3.25)
    dtypes["empty"] = torch.zeros(0, 3)
    dtypes["wide"] = torch.randn(2, 2, 2, 2, 3, generator=g)  # >3 dims: MARK ... TUPLE sizes
    torch.save(dtypes, os.path.join(out, "dtypes.pt"))

    base = torch.randn(6, 8, generator=g)
    half = torch.randn(10, generator=g).half()
    views = collections.OrderedDict()
    views["base"] = base
    views["transposed"] = base.t()
    views["slice"] = base[2:5, 1:7:2]
    views["row"] = base[3]
    views["flat_tail"] = base.view(48)[20:]
    views["expanded"] = torch.randn(1, 4, generator=g).expand(3, 4)
    views["half"] = half
    views["half_tail"] = half[4:]
    torch.save(views, os.path.join(out, "views.pt"))

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
    model(torch.randn(2, 6, generator=g)).sum().backward()
    opt.step()
    checkpoint = {"epoch": 3, "name": "tiny-run", "state_dict": model.state_dict(), "optimizer": opt.state_dict()}
    torch.save(checkpoint, os.path.join(out, "checkpoint.pt"))
    optim_tensors = {}
    for pid, state in opt.state_dict()["state"].items():
        for k, v in state.items():
            optim_tensors[f"state.{pid}.{k}"] = v.clone().contiguous()
    save_file(optim_tensors, os.path.join(out, "checkpoint.optimizer.safetensors"))
    group = opt.state_dict()["param_groups"][0]
    with open(os.path.join(out, "checkpoint.json"), "w") as f:
        json.dump({"epoch": 3, "name": "tiny-run", "lr": group["lr"], "betas": list(group["betas"]),
                   "params": group["params"], "amsgrad": group["amsgrad"],
                   "state_keys": [sorted(s.keys()) for s in opt.state_dict()["state"].values()]}, f)

    ddp = collections.OrderedDict(("module." + k, v) for k, v in model.state_dict().items())
    torch.save(ddp, os.path.join(out, "ddp.pt"))
    torch.save({"epoch": 1, "name": "ddp-run", "state_dict": ddp}, os.path.join(out, "ddp_checkpoint.pt"))

    scripted = torch.jit.script(Tiny(with_openai_extras=True))
    scripted.save(os.path.join(out, "scripted.pt"))
    # The same archive without its class definitions (code/*.py): not readable as weights.
    with zipfile.ZipFile(os.path.join(out, "scripted.pt")) as src, \
            zipfile.ZipFile(os.path.join(out, "scripted_nocode.zip"), "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if "/code/" not in info.filename:
                dst.writestr(info, src.read(info.filename))

    big_endian_copy(os.path.join(out, "dtypes.pt"), os.path.join(out, "big_endian.pt"))
    check = torch.load(os.path.join(out, "big_endian.pt"), weights_only=True)
    assert all(torch.equal(check[k], dtypes[k]) for k in dtypes), "big-endian copy does not round-trip in torch"

    for name in ["plain_fp32", "dtypes", "views", "checkpoint", "ddp", "ddp_checkpoint", "scripted", "big_endian"]:
        write_expected(out, name)

    save_file({"a": torch.randn(2, 3, generator=g), "b": torch.arange(5), "c": torch.randn(4, generator=g).bfloat16()},
              os.path.join(out, "py_written.safetensors"), metadata={"format": "pt", "who": "python"})
    # A safetensors file named .pt and a torch file named .safetensors: the reader goes by content.
    save_file({"x": torch.ones(2)}, os.path.join(out, "disguised_safetensors.pt"))
    torch.save(collections.OrderedDict(x=torch.ones(2)), os.path.join(out, "disguised_torch.safetensors"))
    print("ok")


if __name__ == "__main__":
    main()
