"""cnnbench: benchmark and ablate the building blocks of convolutional networks.

The public API is what ``__all__`` lists; everything else may change. Plugin authors write
``from cnnbench import hookimpl, Spec`` (``docs/plugins.md``); notebooks compose and run configs and load
records:

>>> import cnnbench
>>> registry = cnnbench.default_registry()              # doctest: +SKIP
>>> cfg = cnnbench.compose_run_config(["pooling=avg"])  # doctest: +SKIP
>>> table = cnnbench.load("results")                    # doctest: +SKIP

Names are imported on first use, so ``import cnnbench`` stays cheap (no torch) for the command line.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from cnnbench.hookspecs import hookimpl

try:
    __version__ = version("cnnbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

#: public name -> the module that defines it
_EXPORTS = {
    # writing plugins
    "Spec": "cnnbench.spec",
    "Range": "cnnbench.spec",
    "Baseline": "cnnbench.spec",
    "Op": "cnnbench.spec",
    "KINDS": "cnnbench.kinds",
    "Parts": "cnnbench.parts",
    "Task": "cnnbench.tasks",
    "TaskData": "cnnbench.tasks",
    "ImageSet": "cnnbench.data",
    "ImageSplits": "cnnbench.data",
    # the registry
    "Registry": "cnnbench.registry",
    "Component": "cnnbench.registry",
    "load_registry": "cnnbench.plugins",
    "default_registry": "cnnbench.plugins",
    # configs, data and runs
    "composing": "cnnbench.composition",
    "compose_run_config": "cnnbench.composition",
    "load_dataset": "cnnbench.data",
    "execute": "cnnbench.training.execute",
    # records
    "RunRecord": "cnnbench.records",
    "BenchRecord": "cnnbench.records",
    "Objective": "cnnbench.records",
    "load": "cnnbench.report.loader",
    # errors
    "CnnbenchError": "cnnbench.errors",
}

__all__ = [
    "__version__",
    "hookimpl",
    "Spec",
    "Range",
    "Baseline",
    "Op",
    "KINDS",
    "Parts",
    "Task",
    "TaskData",
    "ImageSet",
    "ImageSplits",
    "Registry",
    "Component",
    "load_registry",
    "default_registry",
    "composing",
    "compose_run_config",
    "load_dataset",
    "execute",
    "RunRecord",
    "BenchRecord",
    "Objective",
    "load",
    "CnnbenchError",
]

if TYPE_CHECKING:
    from cnnbench.composition import compose_run_config, composing
    from cnnbench.data import ImageSet, ImageSplits, load_dataset
    from cnnbench.errors import CnnbenchError
    from cnnbench.kinds import KINDS
    from cnnbench.parts import Parts
    from cnnbench.plugins import default_registry, load_registry
    from cnnbench.records import BenchRecord, Objective, RunRecord
    from cnnbench.registry import Component, Registry
    from cnnbench.report.loader import load
    from cnnbench.spec import Baseline, Op, Range, Spec
    from cnnbench.tasks import Task, TaskData
    from cnnbench.training.execute import execute


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cnnbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
