"""Reproduction: chapter parameters and targets, results records, the papermill runner."""

from advlib.repro import catalog as _catalog  # noqa: F401  (registers the chapters)
from advlib.repro.record import save_record, write_json_atomic
from advlib.repro.spec import Chapter, Parameter, Target, chapters, check_parameters, get_chapter

__all__ = [
    "Chapter",
    "Parameter",
    "Target",
    "chapters",
    "check_parameters",
    "get_chapter",
    "save_record",
    "write_json_atomic",
]
