"""Write a :class:`~cnnbench.report.build.Report` as Markdown, one self-contained HTML page, CSV and Parquet.

Markdown and HTML are two renderings of one list of blocks (headings, paragraphs, tables, figures),
so they always say the same thing. Both are deterministic: rows are sorted, numbers have fixed
formats and no clock time appears, so the same records give byte-identical files. Every string is
HTML-escaped: record contents are data, and a component named ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cnnbench.report.build import Report
from cnnbench.report.claims import COMPETES, DILATION_CLAIM
from cnnbench.report.inference import CORRECTION_NAMES, MIN_SEEDS
from cnnbench.report.plots import Plot
from cnnbench.report.stats import SECTION_KEYS, fold, sections, text

FORMATS = ("markdown", "html", "csv", "parquet")
MISSING = "–"
TITLE = "cnnbench report"


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    css: str = ""


@dataclass(frozen=True)
class Image:
    plot: Plot


Block = Heading | Paragraph | Table | Image


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


def _text(value: Any) -> str:
    return text(value) or MISSING


#: column -> (header, formatter, numeric)
COLUMNS: dict[str, tuple[str, Callable[[Any], str], bool]] = {
    "rank": ("rank", str, True),
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
    "seeds_to_decide": ("seeds to decide", lambda n: "" if pd.isna(n) else f"{int(n)}", True),
    "importance": ("importance", _number(".3f"), True),
    "value": ("value", _number(".4f"), True),
    "best": ("best so far", _number(".4f"), True),
    "forward_ms": ("forward ms", _number(".4g"), True),
    "forward_backward_ms": ("fwd+bwd ms", _number(".4g"), True),
    "baseline_forward_ms": ("baseline fwd ms", _number(".4g"), True),
    "baseline_forward_backward_ms": ("baseline fwd+bwd ms", _number(".4g"), True),
    "ratio_forward": ("ratio fwd", _number(".3f"), True),
    "ratio_forward_backward": ("ratio fwd+bwd", _number(".3f"), True),
    "median_ms": ("median ms", _number(".4g"), True),
    "iqr_ms": ("IQR ms", _number(".4g"), True),
}


def table(frame: pd.DataFrame, columns: Sequence[str], css: str = "", confidence: float = 0.95) -> Table:
    """A display table: known columns formatted, ``ci_low``/``ci_high`` joined into one interval column."""
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
        cells.append([format_(value) for value in frame[column]])
        numeric.append(is_numeric)
    return Table(header, [list(row) for row in zip(*cells)], numeric, css)


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
            "the columns are the settings that vary within the section. Ranked by the test metric: mean and standard deviation "
            f"over seeds and a {report.confidence:.0%} percentile-bootstrap interval over seeds (none below {MIN_SEEDS} seeds); "
            "the validation mean and the overfitting gap (train - validation) beside it. `vs leader` is a test against the "
            f"section's leader (paired sign-flip test when the seeds match, else Welch's t-test), corrected over the section with "
            f"{CORRECTION_NAMES[report.correction]}: `tie` when the corrected p is at least {1 - report.confidence:.2g}, `behind` when below."
        )
    )
    for title, rows in sections(report.leaderboard):
        folded = fold(rows, [k for k in report.keys if k not in SECTION_KEYS])
        rows, keys = rows.assign(**folded), list(folded.columns)
        varying, fixed = _split_constant(rows, keys + (["devices"] if "devices" in rows else []))
        direction = "higher is better" if rows["maximize"].iloc[0] else "lower is better"
        blocks += [Heading(3, f"{title} ({direction})")] + ([Paragraph(fixed)] if fixed else [])
        measured = [c for c in ("validation", "gap") if rows[c].notna().any()]
        flagged = ["selected_on_test"] if rows["selected_on_test"].any() else []
        columns = ["rank", *varying, "config_id", "n", "seeds", "mean", "std", "ci", *measured, "versus_leader", "p_leader", *flagged, "train_s"]
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
        rows = rows.assign(n=rows["n_choice"].astype(str) + "/" + rows["n_baseline"].astype(str))
        columns = ["slot", "choice", "baseline", "context", "n", "test", "diff", "ci", "p_better", "p_value", "p_adjusted", "verdict", "seeds_to_decide"]
        blocks += [Heading(3, title), table(rows, columns, "ablation", report.confidence)]
    return blocks


def _aggregate_blocks(report: Report) -> list[Block]:
    if report.aggregates.empty:
        return []
    intro = (
        "Each choice across the sections (tasks, datasets, devices) of one metric, the other settings pooled, as rliable "
        "(Agarwal et al. 2021) aggregates: the interquartile mean (IQM, the mean of the middle half of all runs) and the "
        "performance profile (the share of runs that beat a threshold tau; here tau is the median of all compared runs, "
        f"profiles.csv has the whole curve), with {report.confidence:.0%} stratified-bootstrap intervals (runs resampled within "
        "each section). Scores are raw metric values: compare only metrics on one scale across datasets."
    )
    blocks: list[Block] = [Heading(2, "Across sections"), Paragraph(intro)]
    for (metric, slot), rows in report.aggregates.groupby(["metric", "slot"], sort=True):
        rows = rows.assign(
            iqm_ci=[_interval(".4f")(lo, hi) for lo, hi in zip(rows["iqm_low"], rows["iqm_high"])],
            above_ci=[_interval(".3f")(lo, hi) for lo, hi in zip(rows["above_low"], rows["above_high"])],
        )
        tau = rows["tau"].iloc[0]
        frame = pd.DataFrame(
            {"choice": rows["choice"], "sections": rows["sections"].astype(str), "runs": rows["runs"].astype(str), "IQM": rows["iqm"].map("{:.4f}".format),
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
        n=report.claims["n_choice"].astype(str) + "/" + report.claims["n_baseline"].astype(str),
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


def _study_blocks(report: Report, plots: dict[str, Plot]) -> list[Block]:
    if not report.studies:
        return []
    blocks: list[Block] = [Heading(2, "Sweeps")]
    for index, study in enumerate(report.studies, start=1):
        trials = study.trials
        done = trials[trials["state"] == "completed"]
        states = ", ".join(f"{state} {count}" for state, count in sorted(trials["state"].value_counts().items()))
        summary = f"{len(trials)} trials ({states}); objective {study.objective.metric}, {'maximised' if study.objective.maximize else 'minimised'}."
        if not done.empty:
            best = done.loc[done["value"].idxmax() if study.objective.maximize else done["value"].idxmin()]
            settings = ", ".join(f"{p}={text(best[p])}" for p in study.params)
            summary += f" Best: {best['value']:.4f} at trial {int(best['trial'])}" + (f" ({settings})." if settings else ".")
        blocks += [Heading(3, f"Study {study.name}"), Paragraph(summary)]
        if study.importances:
            frame = pd.DataFrame({"parameter": list(study.importances), "importance": list(study.importances.values())})
            blocks.append(table(frame, ["parameter", "importance"], "importances"))
        blocks += [Image(plots[name]) for name in (f"study-{index}-history", f"study-{index}-importance") if name in plots]
    return blocks


def _timing_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = []
    for title, frame in (
        ("Components against their PyTorch built-ins (median of the records)", report.bench),
        ("pytest-benchmark (median over files)", report.pytest_benchmark),
    ):
        if not frame.empty:
            blocks += [Heading(3, title), table(frame, list(frame.columns), "bench")]
    return [Heading(2, "Component timings"), *blocks] if blocks else []


def document(report: Report, plots: Sequence[Plot]) -> list[Block]:
    """The report as blocks, in reading order."""
    by_name = {plot.name: plot for plot in plots}
    goals = "; ".join(f"{task or 'no task'}: {goal.metric} ({'higher' if goal.maximize else 'lower'} is better)" for task, goal in sorted(report.objectives.items()))
    shown = [k for k in report.keys if k not in SECTION_KEYS]
    intro = f"Metric per task: {goals or 'none'}. Configurations are told apart by {len(shown)} settings: {', '.join(shown) or 'none'}."
    blocks: list[Block] = [Heading(1, TITLE), Paragraph(intro), *map(Paragraph, report.notes)]
    blocks += _claim_blocks(report) + _leaderboard_blocks(report) + _ablation_blocks(report) + _aggregate_blocks(report) + _repeat_blocks(report)
    figures = [plot for plot in plots if not plot.name.startswith("study-")]
    if figures:
        blocks += [Heading(2, "Plots"), *map(Image, figures)]
    blocks += _study_blocks(report, by_name) + _timing_blocks(report)
    provenance = pd.DataFrame(report.provenance, columns=["what", "covers"])
    return blocks + [Heading(2, "Provenance"), table(provenance, ["what", "covers"], "provenance")]


def _markdown_cell(value: str) -> str:
    return html.escape(value, quote=False).replace("|", "\\|").replace("\n", " ")


def markdown(blocks: Sequence[Block], image_dir: str = "plots") -> str:
    """GitHub-flavoured Markdown, plots referenced as ``<image_dir>/<name>.png``."""
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_markdown_cell(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_markdown_cell(block.text))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(map(_markdown_cell, block.header)) + " |"]
            lines.append("|" + "|".join("---:" if numeric else "---" for numeric in block.numeric) + "|")
            lines += ["| " + " | ".join(map(_markdown_cell, row)) + " |" for row in block.rows]
            out.append("\n".join(lines))
        else:
            out.append(f"![{_markdown_cell(block.plot.title)}]({image_dir}/{block.plot.name}.png)")
    return "\n\n".join(out) + "\n"


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px; color: #1f2328; padding: 0 1rem; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .8rem 0 1.4rem; font-size: .85rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: left; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fbfcfd; }
table.leaderboard tr:first-child td { font-weight: 600; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #d0d7de; }
figcaption { font-size: .85rem; color: #57606a; }
"""


def html_page(blocks: Sequence[Block]) -> str:
    """One self-contained page: inline CSS, plots embedded as base64 PNG, every string escaped."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(cell)}</th>" for cell in block.header)
            opening = ['<td class="num">' if numeric else "<td>" for numeric in block.numeric]
            rows = "".join(
                "<tr>" + "".join(f"{td}{html.escape(cell)}</td>" for td, cell in zip(opening, row)) + "</tr>\n" for row in block.rows
            )
            body.append(f'<table class="{html.escape(block.css)}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>')
        else:
            data = base64.b64encode(block.plot.png).decode("ascii")
            title = html.escape(block.plot.title)
            body.append(f'<figure id="{html.escape(block.plot.name)}"><img alt="{title}" src="data:image/png;base64,{data}"><figcaption>{title}</figcaption></figure>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(TITLE)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    return path


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as Parquet can hold them: lists and dicts (curves, configs) as JSON text, and a
    column that mixes value types (a number here, a word there) as text."""

    def cell(value: Any) -> Any:
        if isinstance(value, (list, dict)):
            return json.dumps(value, sort_keys=True, default=str)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    objects = [c for c in frame.columns if frame[c].dtype == object]
    kinds = {c: pd.api.types.infer_dtype(frame[c], skipna=True) for c in objects}
    mixed = [c for c, kind in kinds.items() if kind.startswith("mixed") and kind != "mixed-integer-float"]
    return frame.assign(**{c: frame[c].map(cell) for c in mixed})


def tables(report: Report) -> dict[str, pd.DataFrame]:
    """The report's tables by file stem; empty ones are left out."""
    trials = [study.trials.assign(study=study.name) for study in report.studies]
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
    }
    return {name: frame for name, frame in found.items() if not frame.empty or name in ("leaderboard", "ablation")}


def write_report(report: Report, plots: Sequence[Plot], out: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write the chosen ``formats`` into ``out`` and return the paths written."""
    formats = set(formats)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    blocks = document(report, plots) if formats & {"markdown", "html"} else []
    if "markdown" in formats:
        image_dir = out / "plots"
        image_dir.mkdir(exist_ok=True)
        for stale in image_dir.glob("*.png"):
            stale.unlink()
        for plot in plots:
            (image_dir / f"{plot.name}.png").write_bytes(plot.png)
            written.append(image_dir / f"{plot.name}.png")
        written.append(out / "report.md")
        written[-1].write_text(markdown(blocks), encoding="utf-8")
    if "html" in formats:
        written.append(out / "report.html")
        written[-1].write_text(html_page(blocks), encoding="utf-8")
    if "csv" in formats:
        written += [_csv(frame, out / f"{name}.csv") for name, frame in tables(report).items()]
    if "parquet" in formats:
        for name, frame in {"records": report.frame, **tables(report)}.items():
            _parquet_safe(frame).to_parquet(out / f"{name}.parquet", index=False)
            written.append(out / f"{name}.parquet")
    return written
