"""Reproduction: chapter parameters and targets, results records and the ledger, the
papermill runner, and the checks that keep the prose true to the run."""

from advlib.repro import catalog as _catalog  # noqa: F401  (registers the chapters)
from advlib.repro.record import embedded_record, finish_chapter, write_json_atomic
from advlib.repro.spec import Chapter, Parameter, Source, Target, chapters, check_parameters, get_chapter

__all__ = [
    "Chapter",
    "Parameter",
    "Source",
    "Target",
    "chapters",
    "check_parameters",
    "embedded_record",
    "finish_chapter",
    "get_chapter",
    "write_json_atomic",
]
