"""open_clip_train side of the training-curve parity test (tests/train/loop/curve_parity_test.cpp).

Runs `open_clip_train.main.main` itself -- its parameter groups, AdamW, cosine schedule,
ClipLoss, accum_freq handling and logit_scale clamp -- with two substitutions:
  * the data: the same shards read in file order with no shuffle and no augmentation
    (open_clip's webdataset pipeline always shuffles, so the order could never match), each
    image decoded by PIL and passed through open_clip's *eval* transform, captions through
    open_clip's tokenizer;
  * a recorder around the loss module that logs the loss, lr and logit_scale of each step.
Writes OUT/curve.json: {"loss": [...], "lr": [...], "logit_scale": [...], "time": [...]}
(one entry per optimizer step; time = perf_counter at the step's loss, for benchmarks).
Under torchrun (several ranks over Gloo) rank 0 writes it, with rank 0's loss, as rsclip logs.
--siglip trains with SigLipLoss as open_clip_train --siglip (init_logit_scale ln 10,
init_logit_bias -10; a --init without logit_bias loads with it zero-filled).
"""
import argparse
import io
import json
import os
import sys
import time

import torch
import webdataset as wds
from PIL import Image

import open_clip
import open_clip_train.main as octm
from open_clip_train.data import DataInfo

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp", "tif", "tiff", "img_content")
TEXT_KEYS = ("txt", "caption")


def make_loader(urls, preprocess, tokenizer, batch_size, steps):
    def decode(sample):
        image = next(sample[k] for k in IMAGE_KEYS if k in sample)
        text = next(sample[k] for k in TEXT_KEYS if k in sample)
        return preprocess(Image.open(io.BytesIO(image))), tokenizer([text.decode("utf-8")])[0]

    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls),
        wds.tarfile_to_samples(),
        wds.map(decode),
        wds.batched(batch_size, partial=False),
    ).with_epoch(steps)
    loader = torch.utils.data.DataLoader(pipeline, batch_size=None, shuffle=False, num_workers=0)
    loader.num_batches = steps
    loader.num_samples = steps * batch_size
    return loader


class Recorder(torch.nn.Module):
    """Wraps open_clip's loss; records the total loss, the optimizer's lr and logit_scale."""

    def __init__(self, loss, optimizer_ref, accum_freq):
        super().__init__()
        self.loss, self.optimizer_ref, self.accum_freq = loss, optimizer_ref, accum_freq
        self.calls = 0
        self.curve = {"loss": [], "lr": [], "logit_scale": [], "time": []}

    def forward(self, *args, **kwargs):
        out = self.loss(*args, **kwargs)
        self.calls += 1
        if self.calls % self.accum_freq == 0:  # the last micro-batch of a step sees the full batch
            total = sum(out.values()) if isinstance(out, dict) else out
            self.curve["loss"].append(float(total))
            opt = self.optimizer_ref[0]
            self.curve["lr"].append(opt.param_groups[0]["lr"] if opt else float("nan"))
            self.curve["logit_scale"].append(float(kwargs["logit_scale"]))
            self.curve["time"].append(time.perf_counter())
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", required=True, nargs="+")
    ap.add_argument("--model-config", required=True, help="open_clip model config .json")
    ap.add_argument("--init", required=True, help="initial weights (.safetensors)")
    ap.add_argument("--make-init", action="store_true",
                    help="first write a random open_clip init (torch.manual_seed(0)) to --init")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.98)
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--accum-freq", type=int, default=1)
    ap.add_argument("--grad-clip-norm", type=float, default=None)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--siglip", action="store_true", help="open_clip_train --siglip (SigLipLoss, logit_bias)")
    ap.add_argument("--loss-dist-impl", default=None, help="open_clip_train --loss-dist-impl (bidir, shift, gather)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)

    open_clip.add_model_config(a.model_config)
    model_name = os.path.splitext(os.path.basename(a.model_config))[0]
    # Under torchrun each rank reads shards rank, rank + world, ... in order (rsclip's split
    # without shard shuffling); --batch-size is per rank, as in open_clip_train.
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if a.make_init and rank == 0:  # the other ranks read it after the process-group rendezvous
        from safetensors.torch import save_file
        torch.manual_seed(0)
        init_model = open_clip.create_model(model_name, pretrained=None)
        save_file({k: v.contiguous() for k, v in init_model.state_dict().items()}, a.init)
    urls = [u for spec in a.shards for u in wds.shardlists.expand_urls(spec)]
    urls = urls[rank::world]

    optimizer_ref = [None]
    recorder = {}
    real_get_data = octm.get_data
    real_create_loss = octm.create_loss

    def get_data(args, preprocess_fns, epoch=0, tokenizer=None):
        return {"train": DataInfo(make_loader(urls, preprocess_fns[1], tokenizer, a.batch_size, a.steps * a.accum_freq))}

    def create_loss(args):
        recorder["r"] = Recorder(real_create_loss(args), optimizer_ref, a.accum_freq)
        return recorder["r"]

    # Capture the optimizer main() builds, for the lr column.
    real_adamw = torch.optim.AdamW

    def adamw(*args, **kwargs):
        optimizer_ref[0] = real_adamw(*args, **kwargs)
        return optimizer_ref[0]

    # open_clip_train wraps the model in DDP with device_ids=[device], which torch refuses
    # for CPU modules; on the CPU the same DDP without device_ids.
    real_ddp = torch.nn.parallel.DistributedDataParallel

    def cpu_ddp(module, device_ids=None, **kwargs):
        return real_ddp(module, **kwargs)

    octm.get_data, octm.create_loss, octm.optim.AdamW = get_data, create_loss, adamw
    if world > 1:
        octm.torch.nn.parallel.DistributedDataParallel = cpu_ddp
    argv = [
        "--model", model_name, "--pretrained", a.init, "--train-data", "fixed-order-shards",
        "--dataset-type", "webdataset", "--train-num-samples", str(a.steps * a.batch_size * a.accum_freq * world),
        "--batch-size", str(a.batch_size), "--epochs", "1", "--lr", str(a.lr), "--wd", str(a.wd),
        "--warmup", str(a.warmup), "--beta1", str(a.beta1), "--beta2", str(a.beta2), "--eps", str(a.eps),
        "--precision", "fp32", "--workers", "0", "--logs", a.out, "--name", "open_clip_train", "--seed", "0",
        "--log-every-n-steps", "1000000", "--save-frequency", "0", "--zeroshot-frequency", "0",
        "--report-to", "", "--accum-freq", str(a.accum_freq), "--device", "cpu",
    ]
    if a.grad_clip_norm is not None:
        argv += ["--grad-clip-norm", str(a.grad_clip_norm)]
    if a.siglip:
        argv += ["--siglip"]
    if a.loss_dist_impl:
        argv += ["--loss-dist-impl", a.loss_dist_impl]
    if world > 1:
        argv += ["--dist-backend", "gloo"]
    octm.main(argv)
    octm.get_data, octm.create_loss, octm.optim.AdamW = real_get_data, real_create_loss, real_adamw
    octm.torch.nn.parallel.DistributedDataParallel = real_ddp
    curve = recorder["r"].curve
    if rank != 0:
        return
    with open(os.path.join(a.out, "curve.json"), "w") as f:
        json.dump(curve, f)
    print(f"{len(curve['loss'])} steps; loss {curve['loss'][0]:.4f} -> {curve['loss'][-1]:.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
