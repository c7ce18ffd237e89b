"""``advlib train``: one model of a scale's recipe, on one process or under ``torchrun``.

The chapters train their models inside the notebook. At full scale a researcher with
several GPUs trains the expensive ones (natural, PGD-AT, FGSM-RS on CIFAR-10) data-parallel:

    torchrun --nproc_per_node=4 -m advlib.cli train --scale full --method pgd \\
        --eps 0.0313725 --attack-steps 10 --seed 0 --out models/pgd-seed0.pt

Every rank trains its share of each batch (:func:`advlib.train.train`), rank 0 writes the
checkpoint after each epoch (an interrupted run resumes from it), and the final clean and
PGD accuracies are computed with the test set split across the ranks
(:func:`advlib.evaluate.accuracy_over_ranks`). Without torchrun the same command trains on
one process. Rank 0 prints one JSON line with the configuration and the accuracies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from advlib.train import METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=("smoke", "class", "full"), default="class",
                        help="the recipe: data, network and training schedule (see advlib.recipes)")
    parser.add_argument("--method", choices=[m for m in METHODS if m != "semantic"], default="natural")
    parser.add_argument("--eps", type=float, default=None, help="training budget (default: the recipe's largest)")
    parser.add_argument("--attack-steps", type=int, default=None, help="PGD steps inside PGD-AT (default: recipe)")
    parser.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (each rank takes cuda:LOCAL_RANK)")
    parser.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    parser.add_argument("--n-eval", type=int, default=1000, help="test images for the final accuracies (0: none)")
    parser.add_argument("--eval-pgd-steps", type=int, default=10)


def main(arguments: argparse.Namespace) -> int:
    import torch.distributed as dist

    from advlib import distributed
    from advlib.attacks import pgd
    from advlib.evaluate import accuracy_over_ranks
    from advlib.recipes import datasets, recipe
    from advlib.train import train
    from advlib.utils import seed_everything

    chosen = recipe(arguments.scale)
    eps = chosen.max_eps if arguments.eps is None else arguments.eps
    changes = {"method": arguments.method, "eps": eps, "seed": arguments.seed}
    if arguments.epochs:
        changes["epochs"] = arguments.epochs
    if arguments.attack_steps is not None:
        changes["attack_steps"] = arguments.attack_steps
    if arguments.seed < 0 or arguments.n_eval < 0 or arguments.eval_pgd_steps < 1:
        print("advlib train: --seed and --n-eval must be >= 0, --eval-pgd-steps >= 1", file=sys.stderr)
        return 2
    try:  # bad settings, missing data (DataUnavailableError), no GPU: one line, before any work
        config = dataclasses.replace(chosen.training, **changes)
        train_set, test_set = datasets(arguments.scale)
        context, device = distributed.init_from_environment(arguments.device)
    except (ValueError, RuntimeError) as error:
        print(f"advlib train: {error}", file=sys.stderr)
        return 2
    try:
        seed_everything(arguments.seed)
        model = chosen.build().to(device)
        history = train(model, train_set, config, device=device, checkpoint=Path(arguments.out), progress=context.main)
        summary = {"ranks": context.world_size, "config": dataclasses.asdict(config), "checkpoint": arguments.out,
                   "epochs": [dataclasses.asdict(record) for record in history]}
        if arguments.n_eval:
            images, labels = (tensor[: arguments.n_eval].to(device) for tensor in test_set.tensors())
            summary["clean_accuracy"] = accuracy_over_ranks(model, images, labels)
            summary["pgd_accuracy"] = accuracy_over_ranks(
                model, images, labels, lambda m, x, y: pgd(m, x, y, eps, steps=arguments.eval_pgd_steps))
        if context.main:
            print(json.dumps(summary))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0
