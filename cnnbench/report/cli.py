"""``cnnbench report``: load every record under the results folders and write the report.

``configure`` runs whenever ``cnnbench`` starts, so this module imports nothing heavy at its top:
pandas, scipy, matplotlib and optuna load only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnbench.report.blocks import Plot
    from cnnbench.report.build import Report

FORMAT_CHOICES = ("markdown", "html", "csv", "parquet")


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _formats(value: str) -> list[str]:
    chosen = _names(value)
    unknown = [name for name in chosen if name not in FORMAT_CHOICES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMAT_CHOICES)}")
    return chosen


def _fraction(option: str, example: str):
    """A parser of a level strictly between 0 and 1 (a confidence, a power)."""

    def parse(value: str) -> float:
        level = float(value)
        if not 0 < level < 1:
            raise argparse.ArgumentTypeError(f"{option} must be between 0 and 1 (e.g. {example}), got {value}")
        return level

    parse.__name__ = option  # argparse names it in "invalid power value: 'x'"
    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's options (see ``docs/report.md``)."""
    parser.add_argument("--results", action="append", type=Path, metavar="DIR", help="folder or file of records, searched recursively; repeatable (default: $CNNBENCH_RESULTS or results)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the report goes (default: report/ in the default results folder)")
    parser.add_argument("--metric", help="rank by this metric (default: each task's objective, else accuracy)")
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--maximize", dest="maximize", action="store_const", const=True, help="higher is better (default: from the metric's name)")
    direction.add_argument("--minimize", dest="maximize", action="store_const", const=False, help="lower is better")
    parser.add_argument("--by", type=_names, metavar="KEYS", help="comma list of columns that define a configuration (default: task,dataset,device, the component columns, the trainer settings that change results and the sweep trial); +KEY,... adds to the default (--by +versions.torch)")
    parser.add_argument("--where", metavar="FILTER", help="pandas query over the records, e.g. \"task == 'classification' and device == 'cpu'\"")
    for option, what in (("task", "tasks"), ("dataset", "datasets"), ("device", "devices"), ("study", "sweep studies")):
        parser.add_argument(f"--{option}", type=_names, metavar="NAMES", help=f"keep only these {what} (comma list)")
    parser.add_argument("--baseline", metavar="SPEC", help="ablation baselines, e.g. activation=elu,pooling=avg (default: activation=relu,pooling=max,convolution=conv,loss=softmax)")
    parser.add_argument("--confidence", type=_fraction("confidence", "0.95"), default=0.95, help="confidence level of the intervals; 1 - it is the level of the tests (default: 0.95)")
    parser.add_argument("--correction", choices=("holm", "bh", "none"), default="holm", help="multiple-comparison correction over each section's comparisons: holm (family-wise), bh (false discovery rate) or none (default: holm)")
    parser.add_argument("--power", type=_fraction("power", "0.8"), default=0.8, help="power at which an inconclusive comparison's seeds to decide are computed (default: 0.8)")
    parser.add_argument("--no-index", dest="index", action="store_false", help="parse every record file, neither reading nor updating the folders' index (<results>/.cnnbench-index.parquet and its delta)")
    parser.add_argument("--format", type=_formats, default=list(FORMAT_CHOICES), metavar="LIST", help=f"comma list of {', '.join(FORMAT_CHOICES)} (default: all)")


def main(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from cnnbench.report.build import build_report, select
    from cnnbench.report.loader import read_records
    from cnnbench.report.output import check_out
    from cnnbench.records import results_dir
    from cnnbench.report.render import write_report

    # Arrow's own allocator (mimalloc) cost a report of 100,000 records a second of system time against
    # the C library's (benchmarks/report_load.py: 8.1 s against 7.3 s warm, 3.5 s of system time against 2.3 s)
    pa.set_memory_pool(pa.system_memory_pool())
    out = args.out or results_dir() / "report"
    check_out(out)
    loaded = read_records(args.results or [results_dir()], index=args.index)
    for source, reason in loaded.skipped:
        print(f"cnnbench: warning: skipped {source}: {reason}", file=sys.stderr)
    allowed = {option: getattr(args, option) for option in ("task", "dataset", "device", "study")}
    frame = select(loaded.frame(), args.where, allowed)
    report = build_report(
        frame,
        metric=args.metric,
        maximize=args.maximize,
        keys=args.by,
        baseline=args.baseline,
        confidence=args.confidence,
        correction=args.correction,
        power=args.power,
        skipped=loaded.skipped,
    )
    for note in report.notes:
        print(f"cnnbench: note: {note}", file=sys.stderr)
    written = write_report(report, _figures, out, args.format)
    loaded.save_indexes()  # only now: a refused report leaves the results folders as they were
    board = report.leaderboard
    configurations = len({config for pooled in board["config_id"] for config in str(pooled).split(",") if config})  # a row's config_id lists those it pools
    how = "pools some" if configurations > len(board) else "splits some"
    rows = f"{len(board)} configurations" if configurations == len(board) else f"{configurations} configurations in {len(board)} leaderboard rows (--by {how})"
    print(f"{len(report.runs)} scored runs, {rows}, {len(report.ablation)} ablation comparisons")
    for path in written:
        if path.suffix != ".png":
            print(f"wrote {path}")
    plots = [path for path in written if path.suffix == ".png"]
    if plots:
        print(f"wrote {len(plots)} plots under {out / 'plots'}")
    return 0


def _figures(report: Report) -> list[Plot]:
    """The report's figures; matplotlib is imported only when a page (Markdown or HTML) needs them."""
    from cnnbench.report.plots import figures

    return figures(report)
