"""The ``advlib`` command: ``advlib bench`` and ``advlib doctor``."""

from __future__ import annotations

import argparse
import sys


def _doctor(arguments: argparse.Namespace) -> int:
    """Print the environment and which datasets are available, without downloading."""
    import torch

    from advlib import __version__
    from advlib.data import available_datasets, data_root, load_dataset
    from advlib.errors import DataUnavailableError
    from advlib.utils import resolve_device

    print(f"advlib {__version__}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"device 'auto' -> {resolve_device('auto')}")
    print(f"data root: {data_root()}")
    for name, scales in available_datasets().items():
        for scale in scales:
            try:
                dataset = load_dataset(name, "test", scale, download=False)
                status = f"ok ({len(dataset)} test images)"
            except DataUnavailableError as error:
                status = f"missing: {error}"
            print(f"  {name:>14} [{scale}]: {status}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from advlib import bench

    parser = argparse.ArgumentParser(prog="advlib", description="The adversarial-examples book's library.")
    commands = parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser("bench", help="PGD-10 benchmark: ours vs torchattacks vs the floor")
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.main)
    doctor = commands.add_parser("doctor", help="check the environment and the data root")
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
