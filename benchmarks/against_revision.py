"""A built-in component now against the same component at an earlier git revision, in one process.

Two runs of ``cnnbench bench`` minutes apart on a shared machine can differ by more than a change is
worth; this times the revision's class, the working tree's and the registered baseline interleaved in
one process on one input (the bench's), forward+backward, and prints each ratio to the baseline as the
median of per-repeat ratios. The old class is the revision's module source executed in a fresh namespace,
so it must import against today's cnnbench.

    python benchmarks/against_revision.py pooling stochastic --rev abbd1b8 --shape 128,64,32,32
    python benchmarks/against_revision.py loss hinge --rev abbd1b8 --shape 128,10,1,1 --repeats 9
    python benchmarks/against_revision.py loss triplet --rev abbd1b8 --shape 128,64,1,1 --helper cnnbench_plugins._mining
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import NoReturn

import torch

from cnnbench.bench.baselines import baseline_for
from cnnbench.bench.inputs import make_case, parse_shape
from cnnbench.bench.runner import Settings, baseline_subject, component_subject
from cnnbench.bench.timing import Subject, forward_backward, interleaved
from cnnbench.errors import CnnbenchError
from cnnbench.plugins import default_registry

ROOT = Path(__file__).resolve().parents[1]


def revision_module(module: types.ModuleType, revision: str) -> types.ModuleType:
    """``module`` as its source was at ``revision``, executed in a fresh namespace."""
    path = Path(inspect.getfile(module)).resolve().relative_to(ROOT)
    source = subprocess.run(["git", "show", f"{revision}:{path.as_posix()}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    old = types.ModuleType(f"{module.__name__}@{revision}")
    exec(compile(source, f"{path}@{revision}", "exec"), old.__dict__)
    return old


def revision_class(cls: type, revision: str, helpers: list[str]) -> type:
    """``cls`` at ``revision``, its module importing the revision's ``helpers`` modules instead of today's."""
    today = {name: sys.modules[name] for name in helpers}
    try:
        for name, module in today.items():
            sys.modules[name] = revision_module(module, revision)
        return getattr(revision_module(sys.modules[cls.__module__], revision), cls.__name__)
    finally:
        sys.modules.update(today)


def fail(message: str) -> NoReturn:
    print(f"cnnbench: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind")
    parser.add_argument("name")
    parser.add_argument("--rev", required=True, help="git revision of the old class")
    parser.add_argument("--shape", default="128,64,32,32", help="N,C,H,W as for cnnbench bench")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--helper", action="append", default=[], help="a module the class imports, also taken at --rev (repeatable)")
    args = parser.parse_args()
    try:
        component = default_registry().get(args.kind, args.name)
        old_class = revision_class(component.factory, args.rev, args.helper)
        case = make_case(component, parse_shape(args.shape), torch.float32, torch.device("cpu"))
    except (CnnbenchError, KeyError) as error:
        fail(str(error))
    except subprocess.CalledProcessError as error:
        fail(f"--rev {args.rev}: {error.stderr.strip().splitlines()[-1] if error.stderr.strip() else 'git show failed'}")
    baseline = baseline_for(component)
    if baseline is None:
        fail(f"{args.kind} {args.name!r} has no baseline to compare with")
    torch.set_num_threads(args.threads)
    new = component_subject(component, case, Settings(torch.device("cpu"), torch.float32))
    old = Subject(old_class(**case.context, **dict(component.defaults)).train(), case.inputs, new.wrt)
    runs = [forward_backward(subject) for subject in (old, new, baseline_subject(baseline, component, case))]
    times = interleaved(runs, args.repeats, args.min_time, args.threads, time.process_time)
    ratios = [statistics.median(a / b for a, b in zip(t, times[2], strict=True)) for t in times[:2]]
    print(f"{args.kind} {args.name} {','.join(map(str, case.shape))}, {args.threads} thread(s), CPU clock, median of {args.repeats}:")
    print(f"  {args.rev}: {statistics.median(times[0]):.4g} ms, {ratios[0]:.3f}x {baseline.name}")
    print(f"  working tree: {statistics.median(times[1]):.4g} ms, {ratios[1]:.3f}x {baseline.name}")


if __name__ == "__main__":
    main()
