"""The ``advlib`` command: ``run``, ``reproduce``, ``train``, ``bench`` and ``doctor``."""

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
    _doctor_faces()
    from advlib.data import celeba

    try:
        status = f"ok ({celeba.celeba_folder()})"
    except DataUnavailableError as error:
        status = f"missing (full scale only): {error}"
    print(f"  {'CelebA':>14}: {status}")
    _doctor_imagenet()
    return 0


def _doctor_imagenet() -> None:
    """Chapter 8's photos: the ImageNet sample photos (class scale) and ILSVRC2012 (full scale)."""
    from advlib.data import imagenet_folders, imagenet_samples
    from advlib.errors import DataUnavailableError

    try:
        status = f"ok ({imagenet_samples.ensure_photos('even', download=False)})"
    except DataUnavailableError as error:
        status = f"missing: {error}"
    print(f"  {'ImageNet photos':>14}: {status}")
    for split in ("train", "val"):
        try:
            paths, _ = imagenet_folders.split_files(split)
            status = f"ok ({len(paths)} images)"
        except DataUnavailableError as error:
            status = f"missing (full scale only): {error}"
        print(f"  {'ILSVRC2012':>14} [{split}]: {status}")


def _doctor_faces() -> None:
    """Chapter 5's assets: the ORL faces, FaceNet's graph and cache, dlib, the benchmarks."""
    from advlib.data import att_faces, face_benchmarks
    from advlib.errors import DataUnavailableError
    from advlib.faces import dlib_recognizer, facenet

    checks = {
        "ORL faces": lambda: att_faces.REPO.ensure(att_faces.REPO.files_under(att_faces.PREFIX), download=False),
        "FaceNet graph": facenet.graph_path,
        "dlib models": dlib_recognizer.models_dir,
    }
    for name, check in checks.items():
        try:
            status = f"ok ({check()})"
        except DataUnavailableError as error:
            status = f"missing: {error}"
        print(f"  {name:>14}: {status}")
    cache = facenet.weights_path()
    print(f"  {'FaceNet torch':>14}: {'cached' if cache.is_file() else 'converted on first use'} ({cache})")
    folder = face_benchmarks.data_root() / face_benchmarks.BENCHMARK_FOLDER
    for name, file in face_benchmarks.BENCHMARKS.items():
        status = "ok" if (folder / file).is_file() else "missing (full scale only)"
        print(f"  {name:>14}: {status} ({folder / file})")


def _failed_run(command: str, error: Exception) -> int:
    """A chapter's cell raised: say which cell and why in one paragraph, not a traceback of
    the notebook runner (the executed notebook, kept in the runs folder, has the full one)."""
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(error, PapermillExecutionError):
        raise error
    print(f"{command}: the chapter failed in cell [{error.exec_count}] with {error.ename}: {error.evalue}\n"
          "Nothing was published; the executed notebook in the runs folder shows the failing cell.", file=sys.stderr)
    return 1


def _run(arguments: argparse.Namespace) -> int:
    """Run one chapter with papermill; parameters are validated before anything executes."""
    from pathlib import Path

    from advlib.repro.ledger import format_measured, outcome
    from advlib.repro.runner import execute, parse_overrides, prepare
    from advlib.repro.spec import get_chapter

    try:
        chapter = get_chapter(arguments.chapter)
        chapter, parameters = prepare(chapter.slug, parse_overrides(chapter, arguments.parameter),
                                      Path(arguments.runs_dir))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"advlib run: {error}", file=sys.stderr)
        return 2
    try:
        record, output = execute(chapter, parameters, progress=not arguments.quiet,
                                 run_solutions=arguments.with_solutions)
    except Exception as error:
        return _failed_run("advlib run", error)
    print(f"{chapter.slug}: {record['wall_seconds']} s; executed notebook: {output}")
    for row in record["ledger"]:
        measured = format_measured(row["measured"])
        print(f"  {row['key']}: measured {measured}, expected {row['expected']}: {outcome(row)}")
    return 0


def _sweep(arguments: argparse.Namespace) -> int:
    """``reproduce --seeds/--executor/--vary/--dry-run``: plan, validate, execute, aggregate."""
    from pathlib import Path

    from advlib.repro.spec import chapters
    from advlib.repro.sweep import parse_grid, parse_seeds, plan_sweep, sweep, sweep_dir

    try:
        if arguments.publish:
            raise ValueError("--publish writes one default class run; it does not combine with a sweep")
        names = ([name.strip() for name in arguments.chapters.split(",")] if arguments.chapters
                 else [chapter.slug for chapter in chapters()])
        plan = plan_sweep(
            arguments.scale, chapters=names, seeds=parse_seeds(arguments.seeds or "0"),
            overrides=arguments.parameter, grid=parse_grid(arguments.vary), runs_dir=Path(arguments.runs_dir),
            executor=arguments.executor or "local", max_parallel=arguments.max_parallel,
            slurm_partition=arguments.slurm_partition, gpus_per_run=arguments.gpus_per_run,
            cpus_per_run=arguments.cpus_per_run, timeout_min=arguments.timeout_min,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"advlib reproduce: {error}", file=sys.stderr)
        return 2
    print(plan.describe())
    if arguments.dry_run:
        return 0
    report = sweep(plan, per_seed=arguments.per_seed)
    print(report["markdown"])
    print(f"report: {sweep_dir(Path(arguments.runs_dir), arguments.scale) / 'report.md'}")
    outcome = report["outcome"]
    print(f"{len(outcome['done'])} run, {len(outcome['skipped'])} skipped (done before), "
          f"{len(outcome['failed'])} failed")
    return 1 if outcome["failed"] else 0


def _reproduce(arguments: argparse.Namespace) -> int:
    """Run every chapter at one scale and write the report (and, with --publish, the book's outputs)."""
    from pathlib import Path

    if arguments.seeds or arguments.executor or arguments.vary or arguments.dry_run:
        return _sweep(arguments)

    from advlib.repro.ledger import count
    from advlib.repro.runner import REPORTS, reproduce

    only = [name.strip() for name in arguments.chapters.split(",")] if arguments.chapters else None
    try:
        report = reproduce(arguments.scale, runs_dir=Path(arguments.runs_dir), only=only,
                           overrides=arguments.parameter, progress=not arguments.quiet, publish=arguments.publish)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"advlib reproduce: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        return _failed_run("advlib reproduce", error)
    rows = [row for record in report["records"].values() for row in record["ledger"]]
    print(", ".join(f"{name}: {n}" for name, n in count(rows).items() if n))
    print(f"report: {Path(arguments.runs_dir) / arguments.scale / 'report.md'}")
    if arguments.publish:
        where = "chapters/" if arguments.scale == "class" else "reproductions/"
        print(f"published: the executed notebooks in {where} and the report page {REPORTS[arguments.scale]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from advlib.cli import bench

    parser = argparse.ArgumentParser(prog="advlib", description="The adversarial-examples book's library.")
    commands = parser.add_subparsers(dest="command", required=True)
    bench_parser = commands.add_parser("bench", help="PGD-10 benchmark: ours vs torchattacks vs the floor")
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(handler=bench.main)
    from advlib.cli import train as train_cli

    trainer = commands.add_parser("train", help="train one model of a scale's recipe (under torchrun: DDP)")
    train_cli.add_arguments(trainer)
    trainer.set_defaults(handler=train_cli.main)
    run = commands.add_parser("run", help="run one chapter notebook with papermill")
    run.add_argument("chapter", help="chapter number or name, e.g. 01 or 01_adversarial_examples")
    run.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                     help="a chapter parameter (repeatable), e.g. -p seed=1 -p scale=full")
    run.add_argument("--runs-dir", default="runs", help="where executed notebooks and records go (default: runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--with-solutions", action="store_true",
                     help="append the exercises' solutions and run them too (into <slug>.solutions.ipynb)")
    run.set_defaults(handler=_run)
    repro = commands.add_parser("reproduce", help="run all chapters at a scale and write the report")
    repro.add_argument("--scale", choices=("smoke", "class", "reference", "full"), default="class",
                       help="reference: each chapter's declared reference run (up to an hour on a CPU)")
    repro.add_argument("--chapters", default=None, help="comma-separated subset, e.g. 01,02")
    repro.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE",
                       help="a parameter for every chapter (repeatable), e.g. -p device=cuda")
    repro.add_argument("--runs-dir", default="runs")
    repro.add_argument("--publish", action="store_true",
                       help="class and reference scales: replace the committed notebooks (chapters/, "
                            "reproductions/) with the executed ones and render the book's report page from them")
    repro.add_argument("--quiet", action="store_true")
    sweeps = repro.add_argument_group(
        "sweeps", "any of these makes the run a sweep: every (chapter, seed, parameter set) in its own folder "
        "under <runs-dir>/<scale>/sweeps/, finished runs skipped, mean ± std over seeds in sweeps/report.md")
    sweeps.add_argument("--seeds", default=None, help="seeds to run, e.g. 0,1,2 or 0-9")
    sweeps.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                        help="a parameter swept over values (repeatable: the grid of all combinations)")
    sweeps.add_argument("--executor", default=None, help="local (default: this machine) or slurm (one job array)")
    sweeps.add_argument("--max-parallel", type=int, default=0,
                        help="runs at a time (default: local, one per core; slurm, all)")
    sweeps.add_argument("--cpus-per-run", type=int, default=0,
                        help="CPU threads per run (default: local, cores / max-parallel; slurm, 1)")
    sweeps.add_argument("--slurm-partition", default=None)
    sweeps.add_argument("--gpus-per-run", type=int, default=0, help="GPUs per Slurm job (e.g. 1 with -p device=cuda)")
    sweeps.add_argument("--timeout-min", type=int, default=240, help="time limit per run in minutes")
    sweeps.add_argument("--dry-run", action="store_true", help="print the validated plan and stop")
    sweeps.add_argument("--per-seed", action="store_true", help="the report also lists every seed's value")
    repro.set_defaults(handler=_reproduce)
    doctor = commands.add_parser("doctor", help="check the environment and the data root")
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)

