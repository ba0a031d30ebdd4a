"""Reference outputs of Python webdataset / braceexpand / random / open_clip_train for the
loader tests (tests/data/*). Each subcommand prints one JSON document on stdout.

  braceexpand PATTERN...            {"PATTERN": [expansions...]}
  random SEED N                     draws of random.Random(SEED): getrandbits, randbelow, random
  shardshuffle SEED EPOCH N         open_clip_train detshuffle2 order of range(N) for SEED, EPOCH
  shuffle SEED BUFSIZE INITIAL N    webdataset filters._shuffle of range(N) with Random(SEED)
  samples URL...                    webdataset's samples (tarfile_to_samples: no shuffle, one
                                    worker), in order: [{"key": hex, "url", "fields": {ext: [size, sha256]}}]
  samples_nothrow URL               the same through open_clip_train's group_by_keys_nothrow (a
                                    repeated field starts a new sample instead of raising)
  pipeline URL...                   the samples open_clip_train would train on, in order, after
                                    its filter (txt + jpg/png/jpeg/webp): [{"key", "image", "text"}]
  split HEXNAME...                  webdataset's base_plus_ext of each (hex-encoded UTF-8) name:
                                    [[key, ext] or null, ...]
  make_tricky DIR                   writes shards with tricky member names into DIR
  batch JSON                        runs several commands in one process (imports are slow):
                                    JSON = [[command, arg...], ...] -> [result, ...]
  tricky DIR HEXNAME...             all of the above for the webdataset test in one process:
                                    {"shards", "samples" (first three shards), "samples_nothrow"
                                    (the fourth), "pipeline" (the pax shard), "split" (the names)}
"""

import hashlib
import importlib.machinery
import io
import json
import random
import sys
import tarfile
import types


def open_clip_train_data():
    """open_clip_train.data; it imports pandas for its CSV dataset only, which the venv
    does not carry, so an empty module stands in for it (nothing used here touches it)."""
    if "pandas" not in sys.modules:
        try:
            import pandas  # noqa: F401
        except ImportError:
            stub = types.ModuleType("pandas")
            stub.__spec__ = importlib.machinery.ModuleSpec("pandas", None)
            sys.modules["pandas"] = stub
    import open_clip_train.data

    return open_clip_train.data


def cmd_braceexpand(patterns):
    import braceexpand

    return {p: list(braceexpand.braceexpand(p)) for p in patterns}


def cmd_random(seed, n):
    rng = random.Random(int(seed))
    out = {"bits32": [rng.getrandbits(32) for _ in range(int(n))]}
    out["bits7"] = [rng.getrandbits(7) for _ in range(int(n))]
    out["bits64"] = [str(rng.getrandbits(64)) for _ in range(int(n))]
    out["below"] = [rng.randint(0, k) for k in range(int(n))]  # randbelow(k + 1)
    out["random"] = [rng.random() for _ in range(int(n))]
    return out


def cmd_shardshuffle(seed, epoch, n):
    d = open_clip_train_data()
    stage = d.detshuffle2(bufsize=2000, initial=500, seed=int(seed), epoch=d.SharedEpoch(int(epoch)))
    return list(stage.run(iter(range(int(n)))))


def cmd_shuffle(seed, bufsize, initial, n):
    from webdataset.filters import _shuffle

    return list(_shuffle(iter(range(int(n))), int(bufsize), int(initial), random.Random(int(seed))))


def cmd_split(hexnames):
    from webdataset.tariterators import base_plus_ext

    out = []
    for h in hexnames:
        key, ext = base_plus_ext(bytes.fromhex(h).decode("utf-8"))
        out.append(None if key is None else [key, ext])
    return out


def describe(samples):
    out = []
    for s in samples:
        fields = {}
        for k, v in s.items():
            if k.startswith("__"):
                continue
            fields[k] = [len(v), hashlib.sha256(v).hexdigest()]
        key = s["__key__"]
        out.append({"key": key.encode("utf-8", "surrogateescape").hex(), "url": s["__url__"], "fields": fields})
    return out


def cmd_samples(urls):
    import webdataset as wds

    return describe(wds.DataPipeline(wds.SimpleShardList(urls), wds.tarfile_to_samples()))


def cmd_samples_nothrow(url):
    # open_clip_train's tarfile_to_samples_nothrow passes webdataset 1.0.2's end-of-shard
    # marker ({}) to group_by_keys_nothrow, which fails on it (KeyError 'fname'); so the
    # marker is switched off here, which is equivalent for a single shard.
    from webdataset.tariterators import tar_file_expander, url_opener

    d = open_clip_train_data()
    files = tar_file_expander(url_opener([dict(url=url)]), eof_value=None)
    return describe(d.group_by_keys_nothrow(files))


def cmd_pipeline(urls):
    import webdataset as wds
    d = open_clip_train_data()
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.tarfile_to_samples(),
        wds.select(d.filter_no_caption_or_no_image),
        wds.rename(image="jpg;png;jpeg;webp", text="txt", handler=d.log_and_continue),
    )
    out = []
    for s in pipeline:
        out.append({"key": s["__key__"], "image": hashlib.sha256(s["image"]).hexdigest(),
                    "text": s["text"].decode("utf-8")})
    return out


def add(tar, name, data, fmt_note=None):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def cmd_make_tricky(directory):
    """Shards whose member names exercise webdataset's key rule and tar name encodings."""
    long_dir = "d" * 120
    samples = [
        ("a.b.c", [("jpg", b"img-abc"), ("txt", b"several dots in the key's extension")]),
        ("sub/dir/x1", [("JPG", b"upper"), ("TxT", b"upper-case extensions")]),
        ("sub/dir.v2/x2", [("jpg", b"dotted dir"), ("txt", b"a dot in a directory name")]),
        ("caf\u00e9/\u00fcber-\u65e5\u672c", [("jpg", b"unicode"), ("txt", "unicode names: caf\u00e9".encode())]),
        (long_dir + "/long-name-" + "n" * 90, [("png", b"long png"), ("txt", b"GNU/pax long names")]),
        ("plain", [("jpg", b"plain"), ("json", b'{"a": 1}'), ("txt", b"with json")]),
        ("img.only", [("jpg", b"no caption here")]),
        ("x.tar.gz.weird", [("webp", b"webp bytes"), ("caption", b"a caption field")]),
    ]
    paths = []
    for fmt, suffix in ((tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
        path = f"{directory}/tricky-{suffix}.tar"
        with tarfile.open(path, "w", format=fmt) as tar:
            add(tar, "__meta__", b"skipped metadata")
            add(tar, "noextension", b"ignored")
            for key, fields in samples:
                for ext, data in fields:
                    add(tar, f"{key}.{ext}", data)
            info = tarfile.TarInfo("sub/dir")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
            add(tar, "last.JPEG", b"last image")
            add(tar, "last.txt", b"last caption")
        paths.append(path)
    gz = f"{directory}/tricky-gz.tar.gz"
    with tarfile.open(gz, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for key, fields in samples[:4]:
            for ext, data in fields:
                add(tar, f"{key}.{ext}", data)
    paths.append(gz)
    dup = f"{directory}/duplicates.tar"
    with tarfile.open(dup, "w") as tar:
        for key, ext, data in (("one", "jpg", b"1"), ("one", "txt", b"first"), ("one", "jpg", b"2"),
                               ("one", "TXT", b"second"), ("one", "json", b"{}"), ("two", "jpg", b"3")):
            add(tar, f"{key}.{ext}", data)
    paths.append(dup)
    return paths


def cmd_tricky(directory, hexnames):
    shards = cmd_make_tricky(directory)
    return {"shards": shards, "samples": cmd_samples(shards[:3]), "samples_nothrow": cmd_samples_nothrow(shards[3]),
            "pipeline": cmd_pipeline([shards[1]]), "split": cmd_split(hexnames)}


def run(cmd, args):
    return {
        "braceexpand": lambda: cmd_braceexpand(args),
        "random": lambda: cmd_random(*args),
        "shardshuffle": lambda: cmd_shardshuffle(*args),
        "shuffle": lambda: cmd_shuffle(*args),
        "samples": lambda: cmd_samples(args),
        "samples_nothrow": lambda: cmd_samples_nothrow(*args),
        "pipeline": lambda: cmd_pipeline(args),
        "split": lambda: cmd_split(args),
        "make_tricky": lambda: cmd_make_tricky(*args),
        "tricky": lambda: cmd_tricky(args[0], args[1:]),
        "batch": lambda: [run(c[0], [str(a) for a in c[1:]]) for c in json.loads(args[0])],
    }[cmd]()


def main():
    json.dump(run(sys.argv[1], sys.argv[2:]), sys.stdout)


if __name__ == "__main__":
    main()
