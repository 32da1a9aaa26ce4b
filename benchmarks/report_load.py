"""How long `cnnbench report` takes over 1,000, 10,000 and 100,000 records, with and without the records index.

Targets (issues 9 and 13): 10,000 records within 5 s and 100,000 within 8 s on the 2-core machine, and a
cost linear in the records. For each size it writes synthetic run records (5 activations x 4 poolings x 2
devices x 2 datasets over as many seeds as it takes, a 40-trial sweep, 6 component timings and a
pytest-benchmark file) with the same `write_record` a run uses, dated an hour back (records a report reads
were written before it; the index does not cache a file written in the last 2 s). Then it times the whole
command in a fresh process (interpreter start, imports, loading, statistics, fANOVA importances, plots,
Markdown, HTML and CSV):

- cold: no index (`<results>/.cnnbench-index.parquet` and its delta): every file parsed, the index written;
- warm: the index present and nothing changed (the median of --repeat runs);
- 1% changed: 1% of the run records rewritten (new files, as a rerun writes them) since the last report.

    python benchmarks/report_load.py [--records 1000,10000,100000] [--repeat 3] [--keep DIR] [--profile FILE] [--stages] [--timeline] [--no-sweep] [--against CHECKOUT]

--against CHECKOUT times the cnnbench of another checkout too (`git worktree add ../old REV`), the two
taking turns in each round on hard-linked copies of the same records: the way to compare revisions on a
machine whose speed drifts.
--no-sweep leaves the sweep out (a report of runs alone). --keep DIR writes the records under DIR/<count> once and reuses them (100,000 records take minutes to
write). --profile FILE also runs one warm report of the largest size under cProfile into FILE and prints
where its time goes (this process's share, not the forked workers'); --stages times the steps of one warm
report of the largest size in this process, none in a worker; --timeline runs one warm report of the largest size
as the real command runs it (forked workers and all) and prints when each step began and ended, in which
process, counted from the command's launch: what overlaps and what waits. On a shared machine the CPU seconds are the steadier figure; `uptime` is printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnnbench.records import write_record
from cnnbench.report import synthetic
from cnnbench.report.index import DELTA_NAME, INDEX_NAME

STUDY_TRIALS = 40
AN_HOUR_AGO = time.time() - 3600
CHANGED = 0.01
#: the steps of ``build_report`` that --stages and --timeline time one by one
TABLE_STEPS = ("scored_runs", "deduplicate", "leaderboard", "aggregates", "claims_table", "ablation", "list_runs", "provenance", "studies")
#: the steps of writing a report that --timeline stamps besides those: module -> function names
STAMPED = {
    "loader": ("read_records",),
    "build": ("build_report", *TABLE_STEPS),
    "plots": ("figures", "choice_plot", "pareto_plot", "curve_plots", "sweep_figures"),
    "render": ("write_report", "write_page", "write_tables"),
}
#: a `cnnbench report` whose steps print "@ pid name began ended" (seconds since the epoch) on stderr; the
#: workers are forked, so they run the stamped functions too
TIMELINE = """
import functools, os, sys, time
from cnnbench.report import build, loader, plots, render
def stamped(module, name):
    step = getattr(module, name)
    @functools.wraps(step)
    def run(*args, **kwargs):
        began = time.time()
        try:
            return step(*args, **kwargs)
        finally:
            print(f"@ {os.getpid()} {name} {began} {time.time()}", file=sys.stderr, flush=True)
    setattr(module, name, run)
for module, names in %r.items():
    for name in names:
        stamped(globals()[module], name)
sys.argv[0] = "cnnbench"
from cnnbench.cli import entry
entry()
""" % (STAMPED,)


def write_records(folder: Path, count: int, sweep: bool = True) -> None:
    """``count`` records: an ablation grid over seeds, plus one sweep (unless not ``sweep``), timings and a
    pytest-benchmark file."""
    combos = itertools.product(("digits", "mnist"), ("cpu", "cuda"), synthetic.ACTIVATION_EFFECT, synthetic.POOLING_EFFECT)
    cells = list(combos)
    trials = STUDY_TRIALS if sweep else 0
    runs = count - trials - len(synthetic.bench_records())
    records = [
        synthetic.run_record(i, dataset=d, device=v, activation=a, pooling=p, seed=i // len(cells))
        for i, (d, v, a, p) in zip(range(runs), itertools.cycle(cells))
    ]
    records += (synthetic.study_trials("mixed-lam", trials) if sweep else []) + synthetic.bench_records()
    synthetic.write_all(records, folder)
    synthetic.write_pytest_benchmark(folder)
    for path in folder.rglob("*.json"):
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


def records_folder(base: Path, count: int, sweep: bool) -> Path:
    """Where ``count`` records (with or without the sweep) are written under ``base``."""
    return base / (str(count) if sweep else f"{count}-no-sweep")


#: `cnnbench` run from the checkout named first on its command line instead of the installed package
FROM_CHECKOUT = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in str(getattr(f, '__module__', ''))];"
    " sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'cnnbench'; import cnnbench.cli as cli; sys.exit(getattr(cli, 'entry', cli.main)())"
)


def time_report(folder: Path, *extra: str, checkout: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of one `cnnbench report` in a fresh interpreter (imports included), of the
    installed cnnbench or of the one in ``checkout``."""
    program = [sys.executable, "-c", FROM_CHECKOUT, str(checkout)] if checkout else [sys.executable, "-m", "cnnbench.cli"]
    command = [*program, "report", "--results", str(folder), "--out", str(folder.parent / f"{folder.name}-report")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.run([*command, "--format", "markdown,html,csv", *extra], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"report failed ({child.returncode}): {child.stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def rewrite_some(folder: Path, share: float, round_: int) -> int:
    """Rewrite ``share`` of the run records (a different slice each round), as a rerun of them would."""
    runs = sorted((folder / "runs").glob("*.json"))
    step = max(1, round(1 / share))
    chosen = runs[round_ % step :: step]
    for path in chosen:
        write_record(json.loads(path.read_bytes()), folder)  # same content, a new file in its place
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))
    return len(chosen)


def measure(trees: dict[str, tuple[Path, Path | None]], repeat: int) -> dict[str, dict[str, tuple[float, float]]]:
    """The median (wall, CPU) of each case for each ``label: (records folder, checkout or None)``, the
    trees taking turns in every round (each its own copy of the records, so its own index)."""
    for folder, _ in trees.values():
        for name in (INDEX_NAME, DELTA_NAME):
            (folder / name).unlink(missing_ok=True)
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {label: {"cold": [], "warm": [], "1% changed": []} for label in trees}

    def each(case: str) -> None:
        for label, (folder, checkout) in trees.items():
            runs[label][case].append(time_report(folder, checkout=checkout))

    each("cold")
    for _ in range(repeat):
        each("warm")
    for round_ in range(repeat):
        for folder, _ in trees.values():
            rewrite_some(folder, CHANGED, round_)  # the same files in every copy
        each("1% changed")
    return {
        label: {case: (statistics.median(w for w, _ in timed), statistics.median(c for _, c in timed)) for case, timed in cases.items()}
        for label, cases in runs.items()
    }


def linked_copy(folder: Path) -> Path:
    """A copy of ``folder``'s records made of hard links (instant, no space), without its index; reused.
    A record rewritten later is a new file (written by rename), so the copies never share a change."""
    copy = folder.parent / f"{folder.name}-against"
    if not copy.is_dir():
        shutil.copytree(folder, copy, copy_function=os.link, ignore=shutil.ignore_patterns(".cnnbench-index*"))
    return copy


def profile(folder: Path, path: Path) -> None:
    """One warm report under cProfile: the cnnbench functions with the most cumulative time. Only this
    process's share: the steps handed to a forked worker (:mod:`cnnbench.report.aside`) are not in the
    profile; ``--stages`` times every step."""
    command = [sys.executable, "-m", "cProfile", "-o", str(path), "-m", "cnnbench.cli", "report", "--results", str(folder)]
    subprocess.run([*command, "--out", str(folder.parent / f"{folder.name}-report"), "--format", "markdown,html,csv"], capture_output=True, check=True)
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(r"cnnbench/report/(?!cli)", 30)


def stages(folder: Path) -> list[tuple[str, float]]:
    """Wall seconds of each step of one warm `cnnbench report` of ``folder``, in this process (the steps of
    ``cnnbench.report.cli.main``; the tables timed one by one inside ``build_report``, none in a worker)."""
    spent: list[tuple[str, float]] = []

    def timed(name: str, step, *args, **kwargs):
        start = time.perf_counter()
        result = step(*args, **kwargs)
        spent.append((name, time.perf_counter() - start))
        return result

    start = time.perf_counter()
    from cnnbench.report import aside, build, render
    from cnnbench.report.html import html_page
    from cnnbench.report.loader import read_records
    from cnnbench.report.plots import figures

    spent.append(("imports", time.perf_counter() - start))
    aside.FORKS = False  # every step in this process, one after the other, so that each can be timed
    loaded = timed("read (index)", read_records, [folder], index=True)
    frame = timed("frame", lambda: build.select(loaded.frame()))
    for name in TABLE_STEPS:
        real = getattr(build, name)
        setattr(build, name, lambda *a, _real=real, _name=name, **k: timed(f"  {_name}", _real, *a, **k))
    report = timed("build_report", build.build_report, frame)
    plots = timed("figures", figures, report)
    blocks = timed("page blocks", render.document, report, plots, folder.parent / "report")
    timed("markdown", render.markdown, blocks)
    timed("html", html_page, blocks)
    with tempfile.TemporaryDirectory() as stage:
        timed("tables (CSV, Parquet)", render.write_tables, report, Path(stage), {"csv", "parquet"})
    return spent


def timeline(folder: Path) -> list[tuple[str, str, float, float]]:
    """(process, step, began, ended) of one warm `cnnbench report` of ``folder`` run as the command runs,
    seconds counted from its launch, in the order the steps began; the last row is the whole command.
    The stamped modules are imported before the command starts (matplotlib with them, which the command
    imports only to draw), so its first steps begin later than in the plain command; the rest is the same."""
    command = [sys.executable, "-c", TIMELINE, "report", "--results", str(folder), "--out", str(folder.parent / f"{folder.name}-report")]
    launched = time.time()
    child = subprocess.run([*command, "--format", "markdown,html,csv"], capture_output=True, text=True, check=False)
    ended = time.time()
    if child.returncode != 0:
        raise SystemExit(f"report failed ({child.returncode}): {child.stderr.strip()}")
    stamps = [line.split()[1:] for line in child.stderr.splitlines() if line.startswith("@ ")]
    processes = list(dict.fromkeys(pid for pid, *_ in sorted(stamps, key=lambda stamp: float(stamp[2]))))
    names = {pid: "command" if number == 0 else f"worker {number}" for number, pid in enumerate(processes)}
    steps = sorted(((names[pid], name, float(began) - launched, float(done) - launched) for pid, name, began, done in stamps), key=lambda step: step[2])
    return [*steps, ("command", "(launch to exit)", 0.0, ended - launched)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="1000,10000,100000", help="comma list of record counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write the records under DIR/<count> once and reuse them")
    parser.add_argument("--profile", type=Path, metavar="FILE", help="profile one warm report of the largest size into FILE")
    parser.add_argument("--stages", action="store_true", help="time the steps of one warm report of the largest size, in this process")
    parser.add_argument("--timeline", action="store_true", help="when each step of one warm report of the largest size began and ended, in which process (the real command, workers and all)")
    parser.add_argument("--no-sweep", dest="sweep", action="store_false", help="records without the sweep: a report of runs alone (no Optuna, scikit-learn or sweep figures)")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT", help="also time the cnnbench in CHECKOUT (e.g. `git worktree add ../old REV`), in turns with this one")
    args = parser.parse_args()
    if args.against and not (args.against / "cnnbench" / "cli.py").is_file():
        parser.error(f"--against {args.against}: no cnnbench/cli.py there; give a checkout of cnnbench")
    counts = [int(part) for part in args.records.split(",")]
    base = args.keep or Path(tempfile.mkdtemp(prefix="report-load-"))
    rows = []
    try:
        for count in counts:
            folder = records_folder(base, count, args.sweep)
            if not (folder / "runs").is_dir():
                write_records(folder, count, args.sweep)
            trees = {"this": (folder, None)} | ({str(args.against): (linked_copy(folder), args.against.resolve())} if args.against else {})
            rows += [(count, label, cases) for label, cases in measure(trees, args.repeat).items()]
            print(f"{count} records measured; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
        if args.profile:
            profile(records_folder(base, counts[-1], args.sweep), args.profile)
        if args.stages:
            for name, seconds in stages(records_folder(base, counts[-1], args.sweep)):
                print(f"{name:24s} {seconds:6.2f} s")
        if args.timeline:
            print("| process | step | began s | ended s | took s |\n|---|---|---:|---:|---:|")
            for process, name, began, ended in timeline(records_folder(base, counts[-1], args.sweep)):
                print(f"| {process} | {name} | {began:.2f} | {ended:.2f} | {ended - began:.2f} |")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\nwall s (CPU s), median of {args.repeat}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| records | cnnbench | cold (no index) | warm (nothing changed) | 1% changed | warm ms per 1,000 records |")
    print("|---:|---|---:|---:|---:|---:|")
    for count, label, cases in rows:
        cells = [f"{wall:.2f} ({cpu:.2f})" for wall, cpu in cases.values()]
        print(f"| {count:,} | {label} | {' | '.join(cells)} | {1000 * cases['warm'][0] / count * 1000:.0f} |")


if __name__ == "__main__":
    main()
