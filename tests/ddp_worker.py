"""Started by ``torchrun`` in ``test_distributed.py``: one rank of a data-parallel run on the
toy task; each rank saves what it ended with, so the test can compare ranks and one process."""

from __future__ import annotations

import sys

import torch
from fakes import toy_brightness_dataset

import advlib.train
from advlib import distributed
from advlib.evaluate import accuracy, accuracy_over_ranks
from advlib.models import SmallCNN
from advlib.train import TrainConfig, train
from advlib.utils import seed_everything


def main(method: str, out: str) -> None:
    context, device = distributed.init_from_environment("cpu")
    saves = []
    original = advlib.train.save_checkpoint
    advlib.train.save_checkpoint = lambda *args, **kwargs: (saves.append(args[3]), original(*args, **kwargs))
    dataset = toy_brightness_dataset()
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=8, image_size=8)
    config = TrainConfig(method=method, epochs=3, batch_size=16, lr=3e-3, eps=0.1, seed=0)
    history = train(model, dataset, config, device=device, checkpoint=f"{out}.ckpt", progress=False)
    images, labels = dataset.tensors()
    torch.save({
        "state": model.state_dict(), "history": [record.loss for record in history], "saves": saves,
        "world": context.world_size, "accuracy_over_ranks": accuracy_over_ranks(model, images, labels),
        "accuracy": accuracy(model, images, labels),
    }, f"{out}.rank{context.rank}.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
