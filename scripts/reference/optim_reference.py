"""Reference dumps for tests/train: open_clip's losses, open_clip_train's parameter groups
and schedules, torch.optim.Adam(W) steps and clip_grad_norm_.

    optim_reference.py losses OUT.safetensors     ClipLoss / SigLipLoss, one rank
    optim_reference.py dist OUT.safetensors       the same on 4 gloo ranks (every dist mode)
    optim_reference.py groups OUT.json            open_clip_train's no-decay grouping
    optim_reference.py schedules OUT.json         cosine / const / const-cooldown / StepLR
    optim_reference.py adam OUT.safetensors       Adam(W) runs: fused, default, foreach
    optim_reference.py clip OUT.safetensors       clip_grad_norm_

Used by tests only. Every tensor the C++ side needs (inputs included) is in the dump.
"""
import importlib.util
import json
import math
import os
import sys
import tempfile

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

B, D = 32, 64


def features(gen, n, d, dtype=torch.float32):
    return F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=-1).to(dtype)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


# ----- losses, one rank -------------------------------------------------------------------
def dump_losses(out):
    from open_clip.loss import ClipLoss, SigLipLoss

    gen = torch.Generator().manual_seed(1234)
    t = {}
    img0, txt0 = features(gen, B, D), features(gen, B, D)
    t["image"], t["text"] = img0, txt0
    t["raw_scale"] = torch.tensor(math.log(1 / 0.07))
    t["bias"] = torch.tensor(-10.0)
    t["siglip_raw_scale"] = torch.tensor(math.log(10.0))

    for name, with_bias in (("clip", False), ("clip_bias", True)):
        img, txt, raw = leaf(img0), leaf(txt0), leaf(t["raw_scale"])
        bias = leaf(t["bias"]) if with_bias else None
        loss = ClipLoss()(img, txt, raw.exp(), logit_bias=bias)
        loss.backward()
        t[f"{name}.loss"] = loss.detach()
        t[f"{name}.grad_image"], t[f"{name}.grad_text"] = img.grad, txt.grad
        t[f"{name}.grad_raw_scale"] = raw.grad
        if with_bias:
            t[f"{name}.grad_bias"] = bias.grad

    img, txt, raw, bias = leaf(img0), leaf(txt0), leaf(t["siglip_raw_scale"]), leaf(t["bias"])
    loss = SigLipLoss()(img, txt, raw.exp(), bias)
    loss.backward()
    t["siglip.loss"] = loss.detach()
    t["siglip.grad_image"], t["siglip.grad_text"] = img.grad, txt.grad
    t["siglip.grad_raw_scale"], t["siglip.grad_bias"] = raw.grad, bias.grad
    save_file({k: v.contiguous() for k, v in t.items()}, out)


# ----- losses, several ranks (gloo) --------------------------------------------------------
WORLD, LOCAL_B = 4, 6
DIST_CASES = [
    ("clip.local0.grad0", dict(kind="clip", local_loss=False, gather_with_grad=False)),
    ("clip.local0.grad1", dict(kind="clip", local_loss=False, gather_with_grad=True)),
    ("clip.local1.grad0", dict(kind="clip", local_loss=True, gather_with_grad=False)),
    ("clip.local1.grad1", dict(kind="clip", local_loss=True, gather_with_grad=True)),
    ("siglip.bidir", dict(kind="siglip", dist_impl="bidir")),
    ("siglip.shift", dict(kind="siglip", dist_impl="shift")),
    ("siglip.gather", dict(kind="siglip", dist_impl="gather")),
]


def dist_inputs():
    gen = torch.Generator().manual_seed(99)
    img, txt = features(gen, WORLD * LOCAL_B, 16), features(gen, WORLD * LOCAL_B, 16)
    return img, txt, torch.tensor(math.log(1 / 0.07)), torch.tensor(-10.0)


def dist_worker(rank, init_file, out_dir):
    import torch.distributed as dist
    from open_clip.loss import ClipLoss, SigLipLoss

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    img_all, txt_all, raw0, bias0 = dist_inputs()
    rows = slice(rank * LOCAL_B, (rank + 1) * LOCAL_B)
    t = {}
    for name, case in DIST_CASES:
        img, txt, raw, bias = leaf(img_all[rows]), leaf(txt_all[rows]), leaf(raw0), leaf(bias0)
        if case["kind"] == "clip":
            loss_fn = ClipLoss(local_loss=case["local_loss"], gather_with_grad=case["gather_with_grad"],
                               rank=rank, world_size=WORLD)
            loss = loss_fn(img, txt, raw.exp())
        else:
            loss_fn = SigLipLoss(rank=rank, world_size=WORLD, dist_impl=case["dist_impl"])
            loss = loss_fn(img, txt, raw.exp(), bias)
        loss.backward()
        t[f"{name}.rank{rank}.loss"] = loss.detach()
        t[f"{name}.rank{rank}.grad_image"], t[f"{name}.rank{rank}.grad_text"] = img.grad, txt.grad
        t[f"{name}.rank{rank}.grad_raw_scale"] = raw.grad
        if case["kind"] == "siglip":
            t[f"{name}.rank{rank}.grad_bias"] = bias.grad
    save_file({k: v.contiguous() for k, v in t.items()}, os.path.join(out_dir, f"rank{rank}.safetensors"))
    dist.barrier()
    dist.destroy_process_group()


def dump_dist(out):
    import open_clip.loss  # noqa: F401  (imported once, before forking the ranks)
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(dist_worker, args=(os.path.join(tmp, "init"), tmp), nprocs=WORLD, join=True,
                           start_method="fork")
        t = {}
        for r in range(WORLD):
            t.update(load_file(os.path.join(tmp, f"rank{r}.safetensors")))
    img, txt, raw, bias = dist_inputs()
    t.update({"image": img, "text": txt, "raw_scale": raw, "bias": bias})
    save_file(t, out, metadata={"world_size": str(WORLD)})


# ----- parameter groups --------------------------------------------------------------------
def open_clip_train_exclude():
    """The `exclude` predicate, read from open_clip_train/main.py itself (main.py cannot be
    imported here: it needs pandas for its data module)."""
    spec = importlib.util.find_spec("open_clip_train")
    path = os.path.join(os.path.dirname(spec.origin), "main.py")
    lines = [l.strip() for l in open(path) if l.strip().startswith("exclude = lambda")]
    assert len(lines) == 1, f"expected one `exclude = lambda` in {path}, found {len(lines)}"
    return eval(lines[0].split("=", 1)[1])


def dump_groups(out):
    import open_clip

    exclude = open_clip_train_exclude()
    include = lambda n, p: not exclude(n, p)
    cases = []
    for model_name, lock_image in (("ViT-B-32", False), ("ViT-B-32", True), ("RN50", False)):
        with torch.device("meta"):  # names and shapes only: no weights are allocated
            model = open_clip.create_model(model_name, device="meta")
        if lock_image:
            model.lock_image_tower(unlocked_groups=1)
        named = list(model.named_parameters())
        cases.append({
            "model": model_name + ("+locked_image" if lock_image else ""),
            "parameters": [[n, list(p.shape), p.requires_grad] for n, p in named],
            # open_clip_train/main.py: gain_or_bias_params then rest_params
            "no_decay": [n for n, p in named if exclude(n, p) and p.requires_grad],
            "decay": [n for n, p in named if include(n, p) and p.requires_grad],
        })
    json.dump(cases, open(out, "w"))


# ----- schedules ---------------------------------------------------------------------------
def dump_schedules(out):
    from open_clip_train.scheduler import const_lr, const_lr_cooldown, cosine_lr

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cases = []
    for base_lr, warmup, steps in ((5e-4, 100, 1000), (1e-3, 0, 257), (3e-5, 7, 8), (2e-4, 10000, 10950)):
        f = cosine_lr(opt, base_lr, warmup, steps)
        cases.append({"kind": "cosine", "base_lr": base_lr, "warmup": warmup, "steps": steps,
                      "lr": [f(s) for s in range(steps)]})
        f = const_lr(opt, base_lr, warmup, steps)
        cases.append({"kind": "const", "base_lr": base_lr, "warmup": warmup, "steps": steps,
                      "lr": [f(s) for s in range(steps)]})
        for cooldown_steps, power, end_lr in ((steps // 3, 1.0, 0.0), (steps // 2, 2.0, 1e-6), (steps // 4, 0.5, 1e-5)):
            f = const_lr_cooldown(opt, base_lr, warmup, steps, cooldown_steps, power, end_lr)
            cases.append({"kind": "const-cooldown", "base_lr": base_lr, "warmup": warmup, "steps": steps,
                          "cooldown_steps": cooldown_steps, "cooldown_power": power, "cooldown_end_lr": end_lr,
                          "lr": [f(s) for s in range(steps)]})
    # The PETL setting: x0.7 every 20 epochs, lr 2e-4, stepped once per epoch.
    for base_lr, step_size, gamma, epochs in ((2e-4, 20, 0.7, 60), (1e-3, 3, 0.5, 20)):
        p = torch.nn.Parameter(torch.zeros(1))
        o = torch.optim.Adam([p], lr=base_lr)
        sched = torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma)
        closed, chained = [], []
        for _ in range(epochs):
            closed.append(sched._get_closed_form_lr()[0])
            chained.append(o.param_groups[0]["lr"])
            o.step()
            sched.step()
        cases.append({"kind": "step", "base_lr": base_lr, "step_epochs": step_size, "gamma": gamma,
                      "epochs": epochs, "closed_form": closed, "chained": chained})
    json.dump(cases, open(out, "w"))


# ----- Adam / AdamW ------------------------------------------------------------------------
ADAM_PARAMS = [  # open_clip-like names so the no-decay rule splits them
    ("visual.conv1.weight", (6, 3, 2, 2)),
    ("visual.class_embedding", (6,)),
    ("visual.ln_pre.weight", (6,)),
    ("visual.transformer.resblocks.0.attn.in_proj_weight", (18, 6)),
    ("visual.transformer.resblocks.0.attn.in_proj_bias", (18,)),
    ("visual.proj", (6, 5)),
    ("token_embedding.weight", (11, 5)),
    ("text_projection", (5, 5)),
    ("logit_scale", ()),
]
ADAM_STEPS = 6
ADAM_SKIP = (3, "visual.proj")  # this parameter has no gradient at this step


def adam_groups(params, wd):
    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
    return [
        {"params": [p for n, p in params if exclude(n, p)], "weight_decay": 0.0},
        {"params": [p for n, p in params if not exclude(n, p)], "weight_decay": wd},
    ]


def dump_adam(out):
    gen = torch.Generator().manual_seed(7)
    t = {}
    init = {n: torch.randn(s, generator=gen) for n, s in ADAM_PARAMS}
    grads = [{n: torch.randn(s, generator=gen) * (1 + k) for n, s in ADAM_PARAMS} for k in range(ADAM_STEPS)]
    lrs = [0.5 * (1 + math.cos(math.pi * k / ADAM_STEPS)) * 1e-2 for k in range(ADAM_STEPS)]
    for n in init:
        t[f"init.{n}"] = init[n]
        for k in range(ADAM_STEPS):
            t[f"grad{k}.{n}"] = grads[k][n]
    t["lrs"] = torch.tensor(lrs, dtype=torch.float64)

    runs = [  # name, class, kwargs, dtype, scaled (AMP-style grad_scale / found_inf)
        ("adamw_fused", torch.optim.AdamW, dict(fused=True), torch.float32, False),
        ("adamw_default", torch.optim.AdamW, dict(), torch.float32, False),
        ("adamw_foreach", torch.optim.AdamW, dict(foreach=True), torch.float32, False),
        ("adam_fused", torch.optim.Adam, dict(fused=True), torch.float32, False),
        ("adam_default", torch.optim.Adam, dict(), torch.float32, False),
        ("adam_foreach", torch.optim.Adam, dict(foreach=True), torch.float32, False),
        ("adamw_fused_bf16", torch.optim.AdamW, dict(fused=True), torch.bfloat16, False),
        ("adamw_default_bf16", torch.optim.AdamW, dict(), torch.bfloat16, False),
        ("adamw_foreach_bf16", torch.optim.AdamW, dict(foreach=True), torch.bfloat16, False),
        ("adamw_fused_scaled", torch.optim.AdamW, dict(fused=True), torch.float32, True),
    ]
    scale = 1024.0
    for run, cls, kwargs, dtype, scaled in runs:
        params = [(n, torch.nn.Parameter(init[n].to(dtype).clone())) for n, _ in ADAM_PARAMS]
        opt = cls(adam_groups(params, 0.1), lr=lrs[0], betas=(0.9, 0.98), eps=1e-6, **kwargs)
        for k in range(ADAM_STEPS):
            for n, p in params:
                skip = (k, n) == ADAM_SKIP
                p.grad = None if skip else (grads[k][n] * (scale if scaled else 1.0)).to(dtype)
            for g in opt.param_groups:
                g["lr"] = lrs[k]
            if scaled:  # what torch.amp.GradScaler hands a fused optimizer
                opt.grad_scale = torch.full((), scale)
                opt.found_inf = torch.full((), 1.0 if k == 2 else 0.0)
            opt.step()
        for n, p in params:
            t[f"{run}.final.{n}"] = p.detach().float().clone()
            st = opt.state[p]
            t[f"{run}.step.{n}"] = st["step"].float().clone()
            t[f"{run}.exp_avg.{n}"] = st["exp_avg"].float().clone()
            t[f"{run}.exp_avg_sq.{n}"] = st["exp_avg_sq"].float().clone()
    save_file({k: v.contiguous() for k, v in t.items()}, out,
              metadata={"steps": str(ADAM_STEPS), "skip_step": str(ADAM_SKIP[0]), "skip_param": ADAM_SKIP[1],
                        "scale": str(scale), "names": json.dumps([n for n, _ in ADAM_PARAMS])})


# ----- clip_grad_norm_ ---------------------------------------------------------------------
def dump_clip(out):
    gen = torch.Generator().manual_seed(5)
    shapes = [(64, 32), (32,), (), (7, 3, 3, 3), (100,), (1, 513)]
    t = {}
    grads = [torch.randn(s, generator=gen) * (i + 1) for i, s in enumerate(shapes)]
    for i, g in enumerate(grads):
        t[f"grad.{i}"] = g
    for case, max_norm, norm_type in (("clip", 1.0, 2.0), ("noclip", 1e6, 2.0), ("inf", 0.5, math.inf), ("p1", 10.0, 1.0)):
        params = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        params.insert(2, torch.nn.Parameter(torch.zeros(3)))  # no gradient: skipped
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        t[f"{case}.total"] = total
        for i, p in enumerate([p for p in params if p.grad is not None]):
            t[f"{case}.grad.{i}"] = p.grad
    save_file({k: v.contiguous() for k, v in t.items()}, out)


if __name__ == "__main__":
    what, out = sys.argv[1], sys.argv[2]
    {"losses": dump_losses, "dist": dump_dist, "groups": dump_groups, "schedules": dump_schedules,
     "adam": dump_adam, "clip": dump_clip}[what](out)
