"""Checks files that rsclip wrote, with the Python stack, for
tests/core/io/checkpoint_reader_reference_test.cpp.

usage: check_torch_files.py DIR

DIR holds, from the C++ test:
  cpp_state_dict.pt            write_torch_state_dict (dtypes, views, shared storages)
  cpp_state_dict.safetensors   save_safetensors of the same tensors made contiguous
  cpp_state_dict.json          {"keys": [...], "layout": {key: [offset, stride, group]}}
  cpp_trainer.pt               write_torch_file of the value built in trainer_value()
Checks: torch.load(weights_only=True) reads both .pt files; keys, order, dtypes, shapes,
bytes, views and storage sharing are as written; torch.save of what was loaded produces
the same archive (every record but the random serialization id, at the same offsets);
safetensors.torch.load_file reads the .safetensors with the same tensors. Prints "ok".
"""

import collections
import io
import json
import os
import sys
import zipfile

import torch
from safetensors.torch import load_file


def same_bytes(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return torch.equal(a.contiguous().reshape(-1).view(torch.uint8), b.contiguous().reshape(-1).view(torch.uint8))


def records(data):
    """(relative name, header offset, size, bytes) of every record but the random id."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            rel = info.filename.split("/", 1)[1]
            if rel != ".data/serialization_id":
                out.append((rel, info.header_offset, info.file_size, z.read(info.filename)))
    return out


def check_state_dict(d):
    path = os.path.join(d, "cpp_state_dict.pt")
    sd = torch.load(path, weights_only=True)
    assert type(sd) is collections.OrderedDict, type(sd)
    spec = json.load(open(os.path.join(d, "cpp_state_dict.json")))
    assert list(sd.keys()) == spec["keys"], (list(sd.keys()), spec["keys"])
    expected = load_file(os.path.join(d, "cpp_state_dict.safetensors"))
    assert list(expected.keys()) == spec["keys"] or set(expected.keys()) == set(spec["keys"])
    groups = {}
    for k, v in sd.items():
        assert same_bytes(v, expected[k]), f"{k}: {v.dtype} {tuple(v.shape)} vs {expected[k].dtype} {tuple(expected[k].shape)}"
        offset, stride, group = spec["layout"][k]
        assert v.storage_offset() == offset and list(v.stride()) == stride, (k, v.storage_offset(), v.stride())
        ptr = v.untyped_storage().data_ptr()
        assert groups.setdefault(group, ptr) == ptr, f"{k}: storage not shared as written"
    assert len(set(groups.values())) == len(groups), "storages shared that were written separately"

    # torch.save of what torch.load returned must give the same archive as rsclip wrote.
    buf = io.BytesIO()
    torch.save(sd, buf)
    ours, theirs = records(open(path, "rb").read()), records(buf.getvalue())
    assert [r[0] for r in ours] == [r[0] for r in theirs], ([r[0] for r in ours], [r[0] for r in theirs])
    for a, b in zip(ours, theirs):
        assert a == b, f"record {a[0]} differs from torch.save's (offset {a[1]} vs {b[1]}, size {a[2]} vs {b[2]})"
    print(f"state dict: {len(sd)} tensors, {len(groups)} storages, archive equal to torch.save's")


def check_trainer(d):
    value = torch.load(os.path.join(d, "cpp_trainer.pt"), weights_only=True)
    w = value.pop("weights")
    assert w.dtype == torch.float32 and torch.equal(w, torch.arange(6, dtype=torch.float32).view(2, 3).t()), w
    assert w.stride() == (1, 3), w.stride()
    expected = {
        "step": 12,
        "lr": 0.5,
        "name": "run-\u00e9",
        "betas": (0.9, 0.98),
        "flags": [True, False, None],
        "nested": {"ints": [1, -2, 300, 70000, -(2**31), 2**31, 2**40, -(2**40), 2**63 - 1, -(2**63)], 7: "seven"},
    }
    assert value == expected, value
    assert type(value["betas"]) is tuple
    print("trainer state: equal")


def main():
    d = sys.argv[1]
    check_state_dict(d)
    check_trainer(d)
    print("ok")


if __name__ == "__main__":
    main()
