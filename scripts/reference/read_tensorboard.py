"""Reads a run's TensorBoard event files the way `tensorboard --logdir` does
(tensorboard's EventAccumulator over the directory, restarts purged) and prints what it
found as JSON: {"scalars": {TAG: [[step, value], ...]}, "texts": {TAG: [[step, text], ...]}}.

usage: read_tensorboard.py RUN/tensorboard
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def main():
    acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.TENSORS: 0},
                              purge_orphaned_data=True)
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    texts = {t: [[e.step, e.tensor_proto.string_val[0].decode()] for e in acc.Tensors(t)] for t in tags["tensors"]}
    print(json.dumps({"scalars": scalars, "texts": texts}))


if __name__ == "__main__":
    main()
