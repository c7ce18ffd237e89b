"""The ``advlib`` command: ``run``, ``reproduce``, ``bench`` and ``doctor``."""

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
    from advlib.data import texture_vs_shape

    for kind, folder in texture_vs_shape.STIMULUS_FOLDERS.items():
        try:
            texture_vs_shape.ensure_files(folder, download=False)
            status = "ok"
        except DataUnavailableError as error:
            status = f"missing: {error}"
        print(f"  {'texture-vs-shape':>14} [{kind}]: {status}")
    from advlib.captcha import ddddocr

    for model in ddddocr.MODEL_FILES:
        try:
            status = f"ok ({ddddocr.model_path(model).name})"
        except DataUnavailableError as error:
            status = f"missing: {error}"
        print(f"  {'ddddocr':>14} [{model}]: {status}")
    return 0


def _run(arguments: argparse.Namespace) -> int:
    """Run one chapter with papermill; parameters are validated before anything executes."""
    from pathlib import Path

    from advlib.repro.runner import execute, parse_overrides, prepare
    from advlib.repro.spec import get_chapter

    try:
        chapter = get_chapter(arguments.chapter)
        chapter, parameters = prepare(chapter.slug, parse_overrides(chapter, arguments.parameter),
                                      Path(arguments.runs_dir))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"advlib run: {error}", file=sys.stderr)
        return 2
    record = execute(chapter, parameters, progress=not arguments.quiet)
    print(f"{chapter.slug}: {record['wall_seconds']} s; results in {parameters['results_dir']}/{parameters['scale']}/")
    for key, value in record["results"].items():
        print(f"  {key}: {value:.4g}")
    return 0


def _reproduce(arguments: argparse.Namespace) -> int:
    """Run every chapter at one scale and write the reproduction report."""
    from pathlib import Path

    from advlib.repro.runner import reproduce

    only = [name.strip() for name in arguments.chapters.split(",")] if arguments.chapters else None
    try:
        report = reproduce(arguments.scale, runs_dir=Path(arguments.runs_dir), only=only,
                           overrides=arguments.parameter, progress=not arguments.quiet,
                           publish=Path(arguments.publish) if arguments.publish else None)
    except (ValueError, FileNotFoundError) as error:
        print(f"advlib reproduce: {error}", file=sys.stderr)
        return 2
    summary = report["summary"]
    print(f"{summary['reproduced']} of {summary['total']} results reproduced; "
          f"report: {Path(arguments.runs_dir) / arguments.scale / 'report.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from advlib import bench

    parser = argparse.ArgumentParser(prog="advlib", description="The adversarial-examples book's library.")
    commands = parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser("bench", help="PGD-10 benchmark: ours vs torchattacks vs the floor")
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.main)
    run = commands.add_parser("run", help="run one chapter notebook with papermill")
    run.add_argument("chapter", help="chapter number or name, e.g. 01 or 01_adversarial_examples")
    run.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                     help="a chapter parameter (repeatable), e.g. -p seed=1 -p scale=full")
    run.add_argument("--runs-dir", default="runs", help="where executed notebooks and records go (default: runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)
    repro = commands.add_parser("reproduce", help="run all chapters at a scale and write the report")
    repro.add_argument("--scale", choices=("smoke", "class", "full"), default="class")
    repro.add_argument("--chapters", default=None, help="comma-separated subset, e.g. 01,02")
    repro.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                       help="a parameter for every chapter (repeatable), e.g. -p device=cuda")
    repro.add_argument("--runs-dir", default="runs")
    repro.add_argument("--publish", default=None, help="also copy the markdown report to this path")
    repro.add_argument("--quiet", action="store_true")
    repro.set_defaults(handler=_reproduce)
    doctor = commands.add_parser("doctor", help="check the environment and the data root")
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
