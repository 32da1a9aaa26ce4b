"""``cnnbench bench``: time every registered component beside its closest PyTorch built-in.

``configure`` runs whenever ``cnnbench`` starts, so torch and the bench modules load only in ``main``.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnbench.bench import KINDS
from cnnbench.kinds import GROUPS
from cnnbench.records import results_dir

if TYPE_CHECKING:
    from cnnbench.bench.runner import Result, Settings

DEFAULT_SHAPES = ("128,64,32,32", "128,6,28,28")  # a mid-network map, and LeNet-5's first pooling input
DTYPES = ("float32", "bfloat16")
EPILOG = """examples:
  cnnbench bench                                 every component, both default shapes
  cnnbench bench pooling --names 'mixed*'        the mixed poolings only
  cnnbench bench activation loss --shape 256,32,16,16 --repeats 9
  cnnbench bench --device cuda --dtype bfloat16  on the GPU (timing synchronised)
  cnnbench bench loss --training-shapes          each loss on 16-128 x 10 logits or 64-128-wide embeddings"""


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not 0 < value < math.inf:  # nan and inf too: a timing budget must be a finite number
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"kinds to time: {', '.join(KINDS)} (default: all)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--shape", action="append", metavar="N,C,H,W", help=f"input map, repeatable (default: {' and '.join(DEFAULT_SHAPES)})")
    parser.add_argument("--training-shapes", action="store_true", help="each component at the shapes training gives it (LeNet-5 and AlexNet-style maps; 16-128 x 10 logits; 64-128-wide embeddings) instead of --shape")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="dtype of inputs and parameters (default: float32)")
    parser.add_argument("--repeats", type=_positive(int), default=5, metavar="R", help="interleaved repeats; figures are medians (default: 5)")
    parser.add_argument("--min-time", type=_positive(float), default=0.05, metavar="S", help="seconds each callable is timed per repeat (default: 0.05)")
    parser.add_argument("--threads", type=_positive(int), metavar="T", help="CPU threads for torch (default: torch's, now)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall (synchronised; the only one on CUDA) or cpu: process CPU time, steadier on a shared machine (default: wall)")
    parser.add_argument("--compile", action="store_true", help="torch.compile each component (baselines stay eager): what trainer.compile=true buys")
    parser.add_argument("--names", default="*", metavar="GLOB", help="only components whose name matches (comma list of shell wildcards)")
    parser.add_argument(
        "--results",
        type=Path,
        default=results_dir(),
        metavar="DIR",
        help="records go to DIR/runs/ (default: $CNNBENCH_RESULTS or results)",
    )


def main(args: argparse.Namespace) -> int:
    import torch

    from cnnbench.bench.inputs import BenchInputError, parse_shape, training_shapes
    from cnnbench.bench.records import write_bench_record
    from cnnbench.bench.runner import Settings, bench_component
    from cnnbench.plugins import default_registry
    from cnnbench.preflight import check_factory, check_writable
    from cnnbench.training.device import select_device

    unknown = [kind for kind in args.kinds if kind not in KINDS]
    if unknown:
        raise BenchInputError(f"unknown kind {', '.join(map(repr, unknown))}; kinds: {', '.join(KINDS)}")
    if args.training_shapes and args.shape:
        raise BenchInputError("--training-shapes replaces --shape; give one of them")
    shapes = [parse_shape(text) for text in args.shape or DEFAULT_SHAPES]
    settings = Settings(
        device=select_device(args.device, option="--device"),
        dtype=getattr(torch, args.dtype),
        repeats=args.repeats,
        min_run_time=args.min_time,
        threads=args.threads or torch.get_num_threads(),
        clock=args.clock,
        compile=args.compile,
    )
    if settings.clock == "cpu" and settings.device.type != "cpu":
        raise BenchInputError(f"--clock cpu times CPU work only; on {settings.device} use --clock wall")
    torch.set_num_threads(settings.threads)
    registry = default_registry()
    patterns = [pattern.strip() for pattern in args.names.split(",") if pattern.strip()]
    components = [
        component
        for kind in args.kinds or KINDS
        for component in registry.components(kind)
        if any(fnmatch.fnmatchcase(component.name, pattern) for pattern in patterns)
    ]
    if not components:
        names = sorted({component.name for kind in args.kinds or KINDS for component in registry.components(kind)})
        raise BenchInputError(f"no {'/'.join(args.kinds or KINDS)} component matches --names {args.names!r}; names: {', '.join(names)}")
    for component in components:  # a factory no run could call: one line now, not a failed record per shape
        if component.kind in GROUPS:  # the kinds a config chooses by name and builds with their context; a layer's caller passes its own
            check_factory(component)
    check_writable(args.results, "--results")  # now, not after timing everything

    from rich.console import Console

    console, progress = Console(width=None if sys.stdout.isatty() else 160), Console(stderr=True)
    results = []
    if args.training_shapes:
        runs = [(shape, component) for component in components for shape in training_shapes(component)]
    else:
        runs = [(shape, component) for shape in shapes for component in components]
    for shape, component in runs:
        with progress.status(f"{component.kind} {component.name} on {','.join(map(str, shape))}"):
            result = bench_component(component, shape, settings)
        write_bench_record(result, settings, registry, args.results)
        results.append(result)
    console.print(results_table(results, settings))
    console.print(f"{len(results)} records written to {args.results / 'runs'}")
    for result in results:
        if result.error:
            where = ",".join(map(str, result.requested))
            print(f"cnnbench: {result.component.kind} {result.component.name} on {where}: {result.status}: {result.error}", file=sys.stderr)
    return 1 if any(r.status == "failed" for r in results) else 0


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}x"


def verdict(result: Result) -> str:
    """PASS or over for a result with a target; its error for a failed one; empty otherwise."""
    if result.status == "failed":
        return "error"
    meets = result.meets_target
    return "" if meets is None else ("PASS" if meets else "over")


def results_table(results: list[Result], settings: Settings) -> Any:
    from rich.table import Table

    threads = f", {settings.threads} threads" if settings.device.type == "cpu" else ""
    threads += ", compiled" if settings.compile else ""
    title = f"{settings.device} {str(settings.dtype).removeprefix('torch.')}{threads}, {settings.clock} clock: median of {settings.repeats} interleaved repeats"
    table = Table(title=title, title_justify="left")
    for header in ("kind", "name", "shape", "baseline"):
        table.add_column(header, no_wrap=True)
    for header in ("fwd ms", "base ms", "fwd x", "fwd+bwd ms", "base ms", "fwd+bwd x", "target"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for result in results:
        forward, both = result.forward, result.forward_backward
        target = result.baseline.target if result.baseline else None
        table.add_row(
            result.component.kind,
            result.component.name,
            ",".join(map(str, result.shape or result.requested)),
            result.baseline.name if result.baseline else "—",
            _ms(forward.median_ms if forward else None),
            _ms(forward.baseline_median_ms if forward else None),
            _ratio(forward.ratio if forward else None),
            _ms(both.median_ms if both else None),
            _ms(both.baseline_median_ms if both else None),
            _ratio(both.ratio if both else None),
            "" if target is None else f"<= {target:g}x",
            verdict(result),
        )
    return table
