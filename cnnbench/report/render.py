"""Write a :class:`~cnnbench.report.build.Report` as Markdown, one self-contained HTML page, CSV and Parquet.

Markdown and HTML are two renderings of one list of blocks (headings, paragraphs, tables, figures),
so they always say the same thing. Both are deterministic: rows are sorted, numbers have fixed
formats and no clock time appears, so the same records give byte-identical files. Every string is
HTML-escaped: record contents are data, and a component named ``<script>`` shows as text.
"""

from __future__ import annotations

import contextlib
import html
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnbench.atomic import write_bytes, write_text, writing
from cnnbench.report.aside import aside
from cnnbench.report.blocks import Block, Heading, Image, Paragraph, Plot, Table
from cnnbench.report.build import Report
from cnnbench.report.claims import COMPETES, DILATION_CLAIM
from cnnbench.report.html import TITLE, html_page
from cnnbench.report.index import json_text
from cnnbench.report.inference import CORRECTION_NAMES, MAX_SEEDS, MIN_SEEDS
from cnnbench.report.output import staged
from cnnbench.report.stats import SECTION_KEYS, fold, sections, text
from cnnbench.report.studies import Study

FORMATS = ("markdown", "html", "csv", "parquet")
MISSING = "–"
#: runs listed in the page (Markdown and HTML); runs.csv lists every one
RUNS_SHOWN = 2_000


def _number(spec: str) -> Callable[[Any], str]:
    def format_(value: Any) -> str:
        return MISSING if value is None or pd.isna(value) else format(value, spec)

    return format_


def _p_value(value: Any) -> str:
    return MISSING if pd.isna(value) else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


def _interval(spec: str) -> Callable[[Any, Any], str]:
    def format_(low: Any, high: Any) -> str:
        return MISSING if pd.isna(low) or pd.isna(high) else f"[{format(low, spec)}, {format(high, spec)}]"

    return format_


#: a number written with more digits than a reader can use (``0.30000000000000004``, a sampled learning rate);
#: not the seconds of a clock time (``17:22:30.671234``, a record's ``started_at``), which are a time, not a measurement
_LONG_NUMBER = re.compile(r"(?<![\w.])(?<!\d:)-?\d+\.\d{5,}(?:e[-+]?\d+)?(?![\w.])")


def short_numbers(value: str) -> str:
    """``value`` with every over-long number in it rounded to four significant digits; dates and times as they are."""
    return _LONG_NUMBER.sub(lambda found: f"{float(found.group()):.4g}" if abs(float(found.group())) < 1e4 else f"{float(found.group()):.0f}", value)


def _text(value: Any) -> str:
    return short_numbers(text(value)) or MISSING


#: column -> (header, formatter, numeric)
COLUMNS: dict[str, tuple[str, Callable[[Any], str], bool]] = {
    "rank": ("rank", str, True),
    "trial": ("trial", str, True),
    "n": ("n", str, True),
    "config_id": ("config", str, False),
    "mean": ("test mean", _number(".4f"), True),
    "std": ("std", _number(".4f"), True),
    "validation": ("validation mean", _number(".4f"), True),
    "gap": ("gap train-val", lambda gap: gap if isinstance(gap, str) else _number("+.4f")(gap), True),
    "p_adjusted": ("p corrected", _p_value, True),
    "train_s": ("train s", _number(".2f"), True),
    "versus_leader": ("vs leader", str, False),
    "p_leader": ("p vs leader", _p_value, True),
    "selected_on_test": ("selected on test", lambda on_test: "yes" if on_test else "", False),
    "diff": ("difference", _number("+.4f"), True),
    "p_better": ("P(better)", _number(".2f"), True),
    "p_value": ("p", _p_value, True),
    "seeds_to_decide": ("seeds to decide", lambda n: "" if pd.isna(n) else f"> {MAX_SEEDS:,}" if n > MAX_SEEDS else f"{int(n)}", True),
    "importance": ("importance", _number(".3f"), True),
    "value": ("value", _number(".4f"), True),
    "validation_value": ("validation", _number(".4f"), True),
    "seed": ("seed", lambda seed: MISSING if pd.isna(seed) else str(int(seed)), True),
    "best": ("best so far", _number(".4f"), True),
    "reached": ("pruned at", _number(".4f"), True),
    "forward_ms": ("forward ms", _number(".4g"), True),
    "forward_backward_ms": ("fwd+bwd ms", _number(".4g"), True),
    "baseline_forward_ms": ("baseline fwd ms", _number(".4g"), True),
    "baseline_forward_backward_ms": ("baseline fwd+bwd ms", _number(".4g"), True),
    "ratio_forward": ("ratio fwd", _number(".3f"), True),
    "ratio_forward_backward": ("ratio fwd+bwd", _number(".3f"), True),
    "median_ms": ("median ms", _number(".4g"), True),
    "iqr_ms": ("IQR ms", _number(".4g"), True),
}


def table(
    frame: pd.DataFrame, columns: Sequence[str], css: str = "", confidence: float = 0.95, links: Mapping[str, Sequence[str | None]] | None = None
) -> Table:
    """A display table: known columns formatted, ``ci_low``/``ci_high`` joined into one interval column;
    ``links`` gives a column's cells a target each (see :func:`record_links`)."""
    header, cells, numeric = [], [], []
    for column in columns:
        if column == "ci":
            header.append(f"{confidence:.0%} CI")
            spec = "+.4f" if "diff" in frame else ".4f"
            cells.append([_interval(spec)(lo, hi) for lo, hi in zip(frame["ci_low"], frame["ci_high"])])
            numeric.append(True)
            continue
        name, format_, is_numeric = COLUMNS.get(column, (column, _text, False))
        header.append(name)
        cells.append(_formatted(frame[column], format_))
        numeric.append(is_numeric)
    targets = {list(columns).index(column): list(found) for column, found in (links or {}).items()}
    return Table(header, [list(row) for row in zip(*cells)], numeric, css, targets)


def _formatted(values: pd.Series, format_: Callable[[Any], str]) -> list[str]:
    """``format_`` of each value, computed once per distinct value where they repeat (the runs table's
    task, device and config of 100,000 runs) and value for value where they do not (numbers)."""
    if isinstance(values.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        shown = [format_(value) for value in uniques]
        return [shown[code] for code in codes]
    if values.dtype == np.float64:  # Python floats format faster than NumPy scalars; NaN is formatted as such
        return [format_(value) for value in values.tolist()]
    return [format_(value) for value in values]


def record_links(sources: Iterable[Any], base: Path | None) -> list[str | None]:
    """Each record file as a link from the report's folder ``base`` (the results folder travels with it)."""
    folders: dict[str, str] = {}  # relpath once per folder: a results folder holds thousands of records in a few folders

    def link(source: str) -> str:
        folder, name = os.path.split(source)
        if folder not in folders:
            folders[folder] = os.path.relpath(folder or os.curdir, base)
        return name if folders[folder] == os.curdir else os.path.join(folders[folder], name)

    return [None if not isinstance(source, str) else source if base is None else link(source) for source in sources]


def _split_constant(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[list[str], str]:
    """The keys that vary between ``frame``'s rows, and a sentence naming those that do not."""
    varying, fixed = [], []
    for key in keys:
        values = frame[key].unique()
        if len(values) > 1:
            varying.append(key)
        elif values[0] != "":
            fixed.append(f"{key}={values[0]}")
    return varying, (f"Same in every row: {', '.join(fixed)}." if fixed else "")


def _leaderboard_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Leaderboard")]
    if report.leaderboard.empty:
        return blocks + [Paragraph("No completed run has a value of its metric.")]
    blocks.append(
        Paragraph(
            "One row per configuration (config: the record's config_id, a hash of every setting that can change a result); "
            "the columns are the settings that vary within the section. Ranked by the validation mean, which selects the leader; "
            "the test metric is reported once beside it: mean and standard deviation "
            f"over seeds and a {report.confidence:.0%} percentile-bootstrap interval over seeds (none below {MIN_SEEDS} seeds), "
            "then the overfitting gap (train - validation). A section with records selected on test (no validation split) is "
            "ranked by the test mean and says so. `vs leader` tests the test values against the "
            f"section's leader (paired sign-flip test when the seeds match, else Welch's t-test), corrected over the section with "
            f"{CORRECTION_NAMES[report.correction]}: `tie` when the corrected p is at least {1 - report.confidence:.2g}, else `behind` "
            "(or `ahead`: better on test than the configuration validation selected)."
        )
    )
    for title, rows in sections(report.leaderboard):
        folded = fold(rows, [k for k in report.keys if k not in SECTION_KEYS])
        rows, keys = rows.assign(**folded), list(folded.columns)
        varying, fixed = _split_constant(rows, keys + (["devices"] if "devices" in rows else []))
        direction = "higher is better" if rows["maximize"].iloc[0] else "lower is better"
        blocks += [Heading(3, f"{title} ({direction}, ranked by {rows['ranked_by'].iloc[0]})")] + ([Paragraph(fixed)] if fixed else [])
        validation = ["validation"] if rows["validation"].notna().any() else []
        gap = ["gap"] if rows["gap"].notna().any() else []
        flagged = ["selected_on_test"] if rows["selected_on_test"].any() else []
        # the verdict beside the numbers it reads, before what a narrow page can scroll to
        columns = ["rank", *varying, "config_id", "n", "seeds", *validation, "mean", "std", "ci", "versus_leader", "p_leader", *gap, *flagged, "train_s"]
        blocks.append(table(rows, columns, "leaderboard", report.confidence))
    return blocks


def _ablation_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Ablation")]
    if report.ablation.empty:
        return blocks + [Paragraph("No slot has runs of a choice and of its baseline in the same context.")]
    blocks.append(
        Paragraph(
            "Each choice against its slot's baseline with the other settings fixed (the context): the difference of test means "
            f"(choice - baseline), its {report.confidence:.0%} percentile-bootstrap interval over seeds, P(better) (the chance the "
            "choice beats the baseline: share of seeds when paired, of all pairs of runs otherwise), and the two-sided p-value of "
            "an exact sign-flip test when the seeds match one to one (Monte Carlo above 13 seeds), else Welch's t-test. "
            f"Multiple-comparison correction over each section's comparisons: {CORRECTION_NAMES[report.correction]}. "
            f"The verdict reads the corrected p at {1 - report.confidence:.2g}; an inconclusive row gives the seeds per side that would "
            f"decide it with power {report.power:.0%} if the observed difference and spread are the truth; below {MIN_SEEDS} seeds a side "
            "there is no interval, test or verdict."
        )
    )
    for title, rows in sections(report.ablation):
        rows = rows.assign(n=_runs_a_side(rows))
        columns = ["slot", "choice", "baseline", "context", "n", "test", "diff", "ci", "p_better", "p_value", "p_adjusted", "verdict", "seeds_to_decide"]
        blocks += [Heading(3, title), table(rows, columns, "ablation", report.confidence)]
    return blocks


def _runs_a_side(comparisons: pd.DataFrame) -> pd.Series:
    """``"10/10"``: the runs of the choice and of the baseline of each comparison."""
    return comparisons["n_choice"].astype(str) + "/" + comparisons["n_baseline"].astype(str)


def _aggregate_blocks(report: Report) -> list[Block]:
    if report.aggregates.empty:
        return []
    intro = (
        "Each choice across the sections (tasks, datasets, devices) of one metric, the other settings pooled, as rliable "
        "(Agarwal et al. 2021) aggregates: the interquartile mean (IQM, the mean of the middle half of all runs) and the "
        "performance profile (the share of runs that beat a threshold tau; here tau is the median of all compared runs, "
        f"profiles.csv has the whole curve), with {report.confidence:.0%} stratified-bootstrap intervals (runs resampled within "
        "each section). Scores are raw metric values: compare only metrics on one scale across datasets. The runs are pooled: "
        "`pooled` names the settings that differ among them, and a section with more runs of a choice weighs more; the "
        "leaderboard and the ablation keep apart every configuration their keys tell apart."
    )
    blocks: list[Block] = [Heading(2, "Across sections"), Paragraph(intro)]
    for (metric, slot), rows in report.aggregates.groupby(["metric", "slot"], sort=True):
        rows = rows.assign(
            iqm_ci=[_interval(".4f")(lo, hi) for lo, hi in zip(rows["iqm_low"], rows["iqm_high"])],
            above_ci=[_interval(".3f")(lo, hi) for lo, hi in zip(rows["above_low"], rows["above_high"])],
        )
        tau = rows["tau"].iloc[0]
        frame = pd.DataFrame(
            {"choice": rows["choice"], "sections": rows["sections"].astype(str), "runs": rows["runs"].astype(str), "pooled": rows["pooled"].replace("", "none"), "IQM": rows["iqm"].map("{:.4f}".format),
             f"{report.confidence:.0%} CI": rows["iqm_ci"], f"share > {tau:.4f}": rows["above"].map("{:.3f}".format), f"{report.confidence:.0%} CI ": rows["above_ci"]}
        )
        blocks += [Heading(3, f"{metric} by {slot}"), table(frame, list(frame.columns), "aggregates")]
    return blocks


def _claim_blocks(report: Report) -> list[Block]:
    """The survey's claims (``experiment=survey_claims``), each with the comparison that tests it."""
    if report.claims.empty:
        return []
    intro = (
        "Each claim of the survey (Gu et al., arXiv:1512.07108) with the comparison that tests it on the test split (or on the "
        "overfitting gap, train - validation accuracy, lower is better): the difference (choice - baseline) with its "
        f"{report.confidence:.0%} bootstrap interval, P(better) (the share of seeds on which the choice beats the baseline, "
        f"when paired), and the p-value corrected over all claims ({CORRECTION_NAMES[report.correction]}). "
        f"'Improves' claims are tested against no difference, 'alternative' and 'competes' claims against being worse by "
        f"{COMPETES:g} or more. Supported or contradicted when the corrected p is below {1 - report.confidence:.2g}; an inconclusive "
        f"claim gives the seeds per side that would decide it with power {report.power:.0%}."
    )
    rows = report.claims.assign(
        n=_runs_a_side(report.claims),
        gap=[
            f"{choice:.4f} vs {baseline:.4f}" if "gap" in comparison and pd.notna(choice) else ""
            for comparison, choice, baseline in zip(report.claims["comparison"], report.claims["gap_choice"], report.claims["gap_baseline"])
        ],
    )
    columns = ["claim", "comparison", "context", "n", "test", "diff", "ci", "p_better", "p_adjusted", "gap", "verdict", "seeds_to_decide"]
    blocks: list[Block] = [Heading(2, "Survey claims"), Paragraph(intro), table(rows, columns, "claims", report.confidence)]
    if report.receptive_fields:
        sides = ", ".join(map(str, report.receptive_fields))
        verdict = "supported" if report.receptive_fields == [3, 7, 15] else "contradicted"
        blocks.append(Paragraph(f"{DILATION_CLAIM} The input footprint of one output pixel after 3x3 convolutions with dilations 1, 2, 4, from the composed kernels: {sides}, without holes; {verdict} (arithmetic, not a trained comparison)."))
    return blocks


def _repeat_blocks(report: Report) -> list[Block]:
    if report.repeats.empty:
        return []
    intro = (
        "Runs of the same configuration with the same seed are one sample, not several: the latest finished run of each "
        "counts (`kept`), the others (`left_out`) are listed here and not used."
    )
    return [Heading(2, "Repeated runs"), Paragraph(intro), table(report.repeats, list(report.repeats.columns), "repeats")]


def _study_blocks(report: Report, plots: dict[str, Plot], base: Path | None) -> list[Block]:
    """The sweeps, apart from the leaderboards and ablations: per study its trials, each linked to its
    record, the importances, and Optuna's figures."""
    if not report.studies:
        return []
    blocks: list[Block] = [
        Heading(2, "Sweeps"),
        Paragraph(
            "Each study's trials, valued by the validation objective the sweep optimised; a pruned trial shows the value it had reached "
            "when it was stopped. The best value is optimistic, being the one selected: the selected trial's test value, stated once "
            "in its study's summary, is the held-out estimate (every trial's is in trials.csv, test_value, not for choosing among them)."
        ),
    ]
    for index, study in enumerate(report.studies, start=1):
        trials = study.trials
        states = ", ".join(f"{state} {count}" for state, count in sorted(trials["state"].value_counts().items()))
        summary = f"{len(trials)} trials ({states}); objective {study.objective.metric} on {study.selected_on}, {'maximised' if study.objective.maximize else 'minimised'}."
        best = study.selected()
        if best is not None:
            settings = ", ".join(f"{p}={_text(best[p])}" for p in study.params)
            summary += f" Best on {study.selected_on}: {best['value']:.4f} at trial {int(best['trial'])}" + (f" ({settings}). " if settings else ". ")
            summary += _held_out(study, best)
        records = trials["records"].map(lambda paths: paths[0] if paths else None)
        shown = trials.assign(record=trials["run_id"])
        columns = ["trial", "state", "value", "best", *study.params, *(["reached"] if shown["reached"].notna().any() else []), "record"]
        blocks += [Heading(3, f"Study {study.name}"), Paragraph(summary), table(shown, columns, "trials", links={"record": record_links(records, base)})]
        if study.importances:
            frame = pd.DataFrame({"parameter": list(study.importances), "importance": list(study.importances.values())})
            blocks.append(table(frame, ["parameter", "importance"], "importances"))
        blocks += [Image(plot) for name, plot in plots.items() if name.startswith(f"study-{index}-")]
    return blocks


def _held_out(study: Study, best: pd.Series) -> str:
    """The selected trial's test value: the estimate its selection did not see, so not biased by it; none
    where the sweep selected on test."""
    if study.selected_on == "test":
        return "Selected on test (schema-1 records have no validation split): no held-out estimate."
    if pd.isna(best["test_value"]):
        return "The selected trial has no test value."
    seeds = f" (mean over its {int(best['n'])} seeds)" if best["n"] > 1 else ""
    return f"The held-out estimate of the selected trial: test {study.objective.metric} {best['test_value']:.4f}{seeds}."


def _run_blocks(report: Report, base: Path | None) -> list[Block]:
    """The runs, each linked to its record file: all of them up to :data:`RUNS_SHOWN`, the first
    :data:`RUNS_SHOWN` beyond (a page of 100,000 rows is 20 MB that no reader scrolls; ``runs.csv`` has all)."""
    runs = report.run_list
    if runs.empty:
        return []
    intro = "Every run counted above, each linked to its record file: value is the selected weights' test metric, validation its validation metric."
    if len(runs) > RUNS_SHOWN:
        intro = (
            f"The first {RUNS_SHOWN:,} of the {len(runs):,} runs counted above, in the order of the columns, each linked to its record file "
            "(all of them are in runs.csv, written with --format csv): value is the selected weights' test metric, validation its validation metric."
        )
        runs = runs.iloc[:RUNS_SHOWN]
    columns = [c for c in runs.columns if c != "source"]
    return [Heading(2, "Runs"), Paragraph(intro), table(runs, columns, "runs", links={"run_id": record_links(runs["source"], base)})]


def _timing_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = []
    for title, frame in (
        ("Components against their PyTorch built-ins (median of the records)", report.bench),
        ("pytest-benchmark (median over files)", report.pytest_benchmark),
    ):
        if not frame.empty:
            blocks += [Heading(3, title), table(frame, list(frame.columns), "bench")]
    return [Heading(2, "Component timings"), *blocks] if blocks else []


def document(report: Report, plots: Sequence[Plot], base: Path | None = None) -> list[Block]:
    """The report as blocks, in reading order; links to record files are relative to ``base``, the
    folder the report is written to."""
    by_name = {plot.name: plot for plot in plots}
    goals = "; ".join(f"{task or 'no task'}: {goal.metric} ({'higher' if goal.maximize else 'lower'} is better)" for task, goal in sorted(report.objectives.items()))
    shown = [k for k in report.keys if k not in SECTION_KEYS]
    intro = f"Metric per task: {goals or 'none'}. Configurations are told apart by {len(shown)} settings: {', '.join(shown) or 'none'}."
    blocks: list[Block] = [Heading(1, TITLE), Paragraph(intro), *map(Paragraph, report.notes)]
    blocks += _leaderboard_blocks(report) + _ablation_blocks(report) + _claim_blocks(report) + _aggregate_blocks(report) + _repeat_blocks(report)
    figures = [plot for plot in plots if not plot.name.startswith("study-")]
    if figures:
        blocks += [Heading(2, "Plots"), *map(Image, figures)]
    blocks += _study_blocks(report, by_name, base) + _timing_blocks(report) + _run_blocks(report, base)
    provenance = pd.DataFrame(report.provenance, columns=["what", "covers"])
    return blocks + [Heading(2, "Provenance"), table(provenance, ["what", "covers"], "provenance")]


_MARKDOWN_PUNCTUATION = re.compile(r"[\\`*\[\]~|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_AUTOLINK = re.compile(r"(?i)(://|\bwww\.)")


_MARKDOWN_SPECIAL = re.compile(r"[&<>\\`*\[\]~|_\n]|://|www\.", re.IGNORECASE)  # a cell without any of these is written as it is


def _markdown_cell(value: str) -> str:
    """``value`` as Markdown text: HTML escaped, and link, image, emphasis, code and table syntax made literal
    (a record field such as ``[x](http://...)`` shows as written, never as a live link or image)."""
    if not _MARKDOWN_SPECIAL.search(value):
        return value
    escaped = _MARKDOWN_PUNCTUATION.sub(lambda match: "\\" + match.group(), html.escape(value, quote=False))
    return _AUTOLINK.sub(lambda match: match.group().replace("/", "\\/").replace(".", "\\."), escaped).replace("\n", " ")


def markdown(blocks: Sequence[Block], image_dir: str = "plots") -> str:
    """GitHub-flavoured Markdown, plots referenced as ``<image_dir>/<name>.png``. Links to record files are
    the HTML page's: the Markdown depends on the records only, not on where their files lie."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_markdown_cell(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_markdown_cell(block.text))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(map(_markdown_cell, block.header)) + " |"]
            lines.append("|" + "|".join("---:" if numeric else "---" for numeric in block.numeric) + "|")
            escaped: dict[str, str] = {}  # a column's values repeat: escape each once
            lines += ["| " + " | ".join([escaped.get(cell) or escaped.setdefault(cell, _markdown_cell(cell)) for cell in row]) + " |" for row in block.rows]
            out.append("\n".join(lines))
        else:
            out.append(f"![{_markdown_cell(block.plot.title)}]({image_dir}/{block.plot.name}.png)")
    return "\n\n".join(out) + "\n"


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    with writing(path, "w") as handle:
        frame.to_csv(handle, index=False, float_format="%.10g", lineterminator="\n")
    return path


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as Parquet can hold them: lists and dicts (curves, configs) as JSON text, and a
    column that mixes value types (a number here, a word there) as text."""

    def cell(value: Any) -> Any:
        if isinstance(value, (list, dict)):
            return json_text(value)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    objects = [c for c in frame.columns if frame[c].dtype == object]
    kinds = {c: pd.api.types.infer_dtype(frame[c], skipna=True) for c in objects}  # JSONText from an index: "string", stored as it is
    mixed = [c for c, kind in kinds.items() if kind.startswith("mixed") and kind != "mixed-integer-float"]
    return frame.assign(**{c: frame[c].map(cell).astype(object) for c in mixed})  # object, as a column of JSONText is


def tables(report: Report) -> dict[str, pd.DataFrame]:
    """The report's tables by file stem; empty ones are left out."""
    trials = [study.trials.drop(columns="records").assign(study=study.name) for study in report.studies]  # run_id, not where its file lies
    found = {
        "leaderboard": report.leaderboard,
        "ablation": report.ablation,
        "aggregates": report.aggregates,
        "profiles": report.profiles,
        "repeats": report.repeats,
        "claims": report.claims,
        "bench": report.bench,
        "pytest_benchmark": report.pytest_benchmark,
        "trials": pd.concat(trials, ignore_index=True) if trials else pd.DataFrame(),
        "runs": report.run_list.drop(columns="source", errors="ignore"),  # run_id, not where its file lies
    }
    return {name: frame for name, frame in found.items() if not frame.empty or name in ("leaderboard", "ablation")}


def write_report(report: Report, draw: Callable[[Report], Sequence[Plot]], out: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write the chosen ``formats`` as one step into ``out`` (see :mod:`cnnbench.report.output`); return the paths.

    ``draw(report)`` makes the figures (:func:`cnnbench.report.plots.figures`), called only for a page
    (Markdown or HTML); meanwhile a worker writes the CSV and Parquet tables (:mod:`cnnbench.report.aside`).
    """
    formats = set(formats)
    with staged(out) as stage:
        writing_tables = aside(write_tables, report, stage, formats) if formats & {"csv", "parquet"} else contextlib.nullcontext(list)
        with writing_tables as tables_written:
            written = write_page(report, draw, stage, out, formats) + tables_written()
    return [out / path.relative_to(stage) for path in written]


def write_page(report: Report, draw: Callable[[Report], Sequence[Plot]], stage: Path, out: Path, formats: set[str]) -> list[Path]:
    """The Markdown page with its plots and the HTML page in ``stage``, as chosen in ``formats``; the
    figures are drawn only for a page. Links in the page are to ``out``, where ``stage`` will be."""
    if not formats & {"markdown", "html"}:
        return []
    plots = draw(report)
    blocks = document(report, plots, out)
    written = []
    if "markdown" in formats:
        shutil.rmtree(stage / "plots", ignore_errors=True)  # the previous report's plots, not this one's
        written += [write_bytes(stage / "plots" / f"{plot.name}.png", plot.png) for plot in plots]
        written.append(write_text(stage / "report.md", markdown(blocks)))
    if "html" in formats:
        written.append(write_text(stage / "report.html", html_page(blocks)))
    return written


def write_tables(report: Report, stage: Path, formats: set[str]) -> list[Path]:
    """The report's tables as CSV and Parquet files in ``stage``, as chosen in ``formats``."""
    written = [_csv(frame, stage / f"{name}.csv") for name, frame in tables(report).items()] if "csv" in formats else []
    if "parquet" in formats:
        for name, frame in {"records": report.frame, **tables(report)}.items():
            with writing(stage / f"{name}.parquet") as handle:
                _parquet_safe(frame).to_parquet(handle, index=False)
            written.append(stage / f"{name}.parquet")
    return written
