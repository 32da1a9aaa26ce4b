"""The report's figures as PNG bytes: metric by component choice, metric against training time with
its Pareto front, training curves, and each sweep's optimisation history and parameter importances.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so no global backend or figure state is touched.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnbench.report.build import Report
from cnnbench.report.loader import curves
from cnnbench.report.stats import (
    DEFAULT_BASELINE,
    SECTION_KEYS,
    as_text,
    describe,
    fold,
    leaderboard,
    pareto_front,
    section_columns,
    sections,
    varying_keys,
)

#: configurations drawn per section in the training-curve figure
CURVES_SHOWN = 6


@dataclass(frozen=True)
class Plot:
    """One figure: its file stem, a caption, and the PNG."""

    name: str
    title: str
    png: bytes


def _figure(height: float, *, left: float = 0.1, bottom: float = 0.14, top: float = 0.9) -> Figure:
    """A 7-inch-wide figure with fixed margins: a layout engine would double the drawing time."""
    figure = Figure(figsize=(7, height))
    figure.subplots_adjust(left=left, right=0.98, bottom=bottom, top=top, wspace=0.3)
    return figure


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def config_labels(board: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """A short name per leaderboard row: the keys that differ between its section's rows."""
    keys = [k for k in keys if k not in SECTION_KEYS]
    shown = varying_keys(board, keys, section_columns(board.columns))
    labels = [describe(dict(zip(keys, row)), shown) or "all runs" for row in board[keys].itertuples(index=False)]
    return pd.Series(labels, index=board.index, dtype=object)


def choice_plot(report: Report, slot: str) -> Plot | None:
    """The metric of each choice of ``slot``, pooled over the other keys (mean and CI across runs)."""
    hyper = [k for k in report.keys if k.startswith(slot + ".")]
    section = [k for k in SECTION_KEYS if k in report.keys]
    board = leaderboard(report.runs, section + [slot] + hyper, report.confidence)
    if board.empty:
        return None
    board["choice"] = fold(board, [slot, *hyper])[slot]
    choices = sorted(board["choice"].unique())
    if len(choices) < 2:
        return None
    figure = _figure(3.8, bottom=0.25)
    axes = figure.add_subplot()
    groups = list(sections(board))
    width = 0.8 / len(groups)
    for i, (title, rows) in enumerate(groups):
        x = rows["choice"].map(choices.index).to_numpy() + (i - (len(groups) - 1) / 2) * width
        error = np.nan_to_num(np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]]))
        axes.errorbar(x, rows["mean"], yerr=error, fmt="o", capsize=4, label=title)
    axes.set_xticks(range(len(choices)), choices, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel(" / ".join(sorted(board["metric"].unique())))
    axes.set_title(f"by {slot} (mean, {report.confidence:.0%} CI; other components pooled)", fontsize=10)
    axes.legend(fontsize=7)
    axes.grid(axis="y", alpha=0.3)
    return Plot(f"by-{slot}", f"Metric by {slot}", _png(figure))


def pareto_plot(report: Report) -> Plot | None:
    """Each configuration's metric against its mean training time, with the Pareto front drawn."""
    board = report.leaderboard[np.isfinite(report.leaderboard["train_s"])]
    if board.empty:
        return None
    figure = _figure(4.2, bottom=0.12)
    axes = figure.add_subplot()
    labels = config_labels(board, report.keys)
    ends = []
    for title, rows in sections(board):
        front = pareto_front(rows["train_s"].to_numpy(), rows["mean"].to_numpy(), maximize=bool(rows["maximize"].iloc[0]))
        points = axes.scatter(rows["train_s"], rows["mean"], s=14, alpha=0.6, label=title)
        ordered = rows[front].sort_values("train_s")
        axes.step(ordered["train_s"], ordered["mean"], where="post", color=points.get_facecolor()[0], linewidth=1.2)
        ends += [(ordered.at[i, "train_s"], ordered.at[i, "mean"], labels[i]) for i in dict.fromkeys(ordered.index[[0, -1]])]
    if board["train_s"].max() > 10 * board["train_s"].min() > 0:
        axes.set_xscale("log")  # CPU and GPU times differ by orders of magnitude
    axes.autoscale_view()
    for x, y, label in ends:  # name the fastest and the best configuration of each front, text kept inside the axes
        right_half = axes.transAxes.inverted().transform(axes.transData.transform((x, y)))[0] > 0.5
        axes.annotate(label, (x, y), fontsize=6, ha="right" if right_half else "left", xytext=(-3 if right_half else 3, 3), textcoords="offset points")
    axes.set_xlabel("mean training time per run (s)")
    axes.set_ylabel(" / ".join(sorted(board["metric"].unique())))
    axes.set_title("metric against training time; the line is the Pareto front", fontsize=10)
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return Plot("pareto", "Metric against training time (Pareto front)", _png(figure))


def curve_plots(report: Report) -> list[Plot]:
    """Per section, the mean per-epoch curves of the best configurations."""
    board, keys = report.leaderboard, report.keys
    if board.empty or "curve" not in report.runs:
        return []
    columns = keys + ["metric"]
    board = board.assign(label=config_labels(board, keys))
    best = board.groupby(section_columns(board.columns), sort=False).head(CURVES_SHOWN)  # the board is in rank order
    row_of = {config: row for row, config in zip(best.index, best[columns].itertuples(index=False, name=None))}
    rows = [row_of.get(config) for config in as_text(report.runs, columns).itertuples(index=False, name=None)]
    runs = report.runs.assign(row=rows).dropna(subset=["row"])
    all_curves = curves(runs).merge(runs[["run_id", "row"]], on="run_id")
    all_curves["label"] = best.loc[all_curves["row"], "label"].to_numpy()
    plots = []
    for index, (title, top) in enumerate(sections(best)):
        long = all_curves[all_curves["row"].isin(top.index)]
        metric = top["metric"].iloc[0]
        shown = [k for k in ("train_loss", metric) if k in set(long["key"])]
        if not shown:
            continue
        legend_height = 0.65 + 0.14 * len(top)  # inches: axis labels, then one legend line per configuration
        figure = _figure(2.9 + legend_height, top=1 - 0.35 / (2.9 + legend_height), bottom=legend_height / (2.9 + legend_height))
        for position, key in enumerate(shown, start=1):
            axes = figure.add_subplot(1, len(shown), position)
            mean = long[long["key"] == key].groupby(["label", "epoch"], sort=True)["value"].mean()
            for label in top["label"]:
                if label in mean.index.get_level_values(0):
                    axes.plot(mean[label].index, mean[label].to_numpy(), marker=".", label=label)
            axes.set_xlabel("epoch")
            axes.set_ylabel(key)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(alpha=0.3)
        figure.legend(*axes.get_legend_handles_labels(), loc="lower center", fontsize=7, frameon=False)
        figure.suptitle(f"{title}: mean over seeds, best {len(top)} configurations", fontsize=9)
        plots.append(Plot(f"curves-{index + 1}", f"Training curves, {title}", _png(figure)))
    return plots


def study_plots(report: Report) -> list[Plot]:
    """Each study's optimisation history and, when computable, its parameter importances."""
    plots = []
    for index, study in enumerate(report.studies, start=1):
        trials = study.trials
        figure = _figure(3.4)
        axes = figure.add_subplot()
        done = trials[trials["state"] == "completed"]
        axes.scatter(done["trial"], done["value"], s=14, label="trial")
        axes.step(trials["trial"], trials["best"], where="post", color="tab:red", label="best so far")
        axes.set_xlabel("trial")
        axes.set_ylabel(study.objective.metric)
        axes.set_title(f"study {study.name}: optimisation history", fontsize=10)
        axes.legend(fontsize=7)
        axes.grid(alpha=0.3)
        plots.append(Plot(f"study-{index}-history", f"Optimisation history of study {study.name}", _png(figure)))
        if study.importances:
            height = 1.2 + 0.3 * len(study.importances)
            widest = max(map(len, study.importances))
            figure = _figure(height, left=min(0.5, 0.04 + 0.011 * widest), bottom=0.5 / height, top=1 - 0.35 / height)
            axes = figure.add_subplot()
            names = list(study.importances)[::-1]
            axes.barh(names, [study.importances[n] for n in names])
            axes.set_xlabel("importance (fANOVA)")
            axes.set_title(f"study {study.name}: parameter importances", fontsize=10)
            plots.append(Plot(f"study-{index}-importance", f"Parameter importances of study {study.name}", _png(figure)))
    return plots


def figures(report: Report) -> list[Plot]:
    """Every figure of ``report``, in the order the report shows them.

    Names come from records, so ``$`` in them is text, not mathtext (``"a$\\x$"`` would not parse).
    """
    with rc_context({"text.parse_math": False}):
        found = [choice_plot(report, slot) for slot in DEFAULT_BASELINE if slot in report.keys]
        found.append(pareto_plot(report))
        return [plot for plot in found if plot is not None] + curve_plots(report) + study_plots(report)
