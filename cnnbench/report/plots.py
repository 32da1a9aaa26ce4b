"""The report's figures as PNG bytes: metric by component choice, metric against training time with
its Pareto front, training curves, and each sweep's figures (:mod:`cnnbench.report.study_figures`).

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never through
pyplot, so no global backend or figure state is touched.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from cnnbench.report.aside import aside
from cnnbench.report.blocks import Plot
from cnnbench.report.build import Report
from cnnbench.report.loader import curves
from cnnbench.report.stats import (
    DEFAULT_BASELINE,
    SECTION_KEYS,
    as_text,
    choice_label,
    describe,
    fold_keys,
    pareto_front,
    section_columns,
    sections,
    varying_keys,
)
from cnnbench.report.studies import Study

#: configurations drawn per section in the training-curve figure
CURVES_SHOWN = 6
#: runs averaged into one configuration's curve (its lowest seeds): beyond a hundred the mean curve no
#: longer moves at the figure's resolution, and decoding 1,250 seeds' curves a configuration costs seconds
CURVE_RUNS = 100
#: families of configurations drawn in a by-choice figure (those with the most choices)
FAMILIES_SHOWN = 6


def _figure(height: float, *, left: float = 0.1, bottom: float = 0.14, top: float = 0.9) -> Figure:
    """A 7-inch-wide figure with fixed margins: a layout engine would double the drawing time."""
    figure = Figure(figsize=(7, height))
    figure.subplots_adjust(left=left, right=0.98, bottom=bottom, top=top, wspace=0.3)
    return figure


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # the labels decide the margins, so none is cut (a long choice name, a legend beside the axes)
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None})
    return buffer.getvalue()


def config_labels(board: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """A short name per leaderboard row: the keys that differ between its section's rows."""
    keys = [k for k in keys if k not in SECTION_KEYS]
    shown = varying_keys(board, keys, section_columns(board.columns))
    labels = [describe(dict(zip(keys, row)), shown) or "all runs" for row in board[keys].itertuples(index=False)]
    return pd.Series(labels, index=board.index, dtype=object)


def _families(board: pd.DataFrame, slot: str, context: Sequence[str]) -> tuple[list[pd.DataFrame], int]:
    """The leaderboard rows grouped into families, configurations equal in every ``context`` key (task,
    dataset, device, epochs, the other components ...), kept where the family tries two choices or more;
    the families with the most choices first, at most :data:`FAMILIES_SHOWN`, and how many there are."""
    family = pd.Series(list(as_text(board, context).itertuples(index=False, name=None)), index=board.index)
    groups = board.groupby(family, sort=True) if context else [((), board)]
    families = [rows for _, rows in groups if rows["choice"].nunique() > 1]
    return sorted(families, key=lambda rows: -rows["choice"].nunique())[:FAMILIES_SHOWN], len(families)


def _bookkeeping(key: str) -> bool:
    """Identity keys that tell configurations apart but mean nothing to a reader: Hydra's ``_target_`` and
    ``_partial_``, the data's content hash."""
    return "._" in key or key.endswith("fingerprint")


def choice_plot(report: Report, slot: str) -> Plot | None:
    """The metric of each choice of ``slot`` within families of configurations that differ only in that
    choice (mean and interval over seeds): runs of different epochs, datasets, devices or other
    components are never pooled into one point; each family is its own series."""
    board = report.leaderboard
    name = slot
    hyper = [k for k in report.keys if k.startswith(slot + ".")]
    if board.empty or name not in board:
        return None
    context = [k for k in report.keys if k != name and k not in hyper and k in board]
    chosen = as_text(board, [name, *hyper]).itertuples(index=False, name=None)
    board = board.assign(choice=[choice_label(slot, choice, dict(zip(hyper, given))) for choice, *given in chosen])
    families, total = _families(board, slot, context)
    if not families:
        return None
    settings = [dict(zip(context, as_text(rows.iloc[:1], context).iloc[0])) for rows in families]
    varying = {key for key, hyper_keys in fold_keys(context).items() if len({tuple(s[k] for k in (key, *hyper_keys)) for s in settings}) > 1}
    choices = sorted({choice for rows in families for choice in rows["choice"]})
    figure = _figure(3.6, left=0.1, bottom=0.2)
    axes = figure.add_subplot()
    width = 0.6 / len(families)
    for i, (rows, given) in enumerate(zip(families, settings)):
        x = rows["choice"].map(choices.index).to_numpy() + (i - (len(families) - 1) / 2) * width
        low, high = (rows[c].to_numpy(dtype=float) if c in rows else np.full(len(rows), np.nan) for c in ("ci_low", "ci_high"))
        error = np.nan_to_num(np.vstack([rows["mean"] - low, high - rows["mean"]]))
        axes.errorbar(x, rows["mean"], yerr=error, fmt="o", capsize=4, label=describe(given, varying) or "all runs")
    axes.set_xticks(range(len(choices)), choices, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel(" / ".join(sorted(board["metric"].unique())))
    fixed = describe(settings[0], [k for k in fold_keys(context) if k not in varying and not _bookkeeping(k)])
    shown = f"{len(families)} of {total} families" if total > len(families) else "families"
    title = f"by {slot}: mean and {report.confidence:.0%} interval over seeds, within {shown} of configurations"
    axes.set_title("\n".join([title, *textwrap.wrap(f"fixed: {fixed}", 110)]) if fixed else title, fontsize=8.5)
    if len(families) > 1:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    axes.grid(axis="y", alpha=0.3)
    return Plot(f"by-{slot}", f"Metric by {slot}, each family of configurations (equal but for {slot}) its own series", _png(figure))


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
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # mathtext is off: plain numbers
        axes.xaxis.set_minor_formatter(NullFormatter())
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
    wanted = as_text(best, columns).assign(row=best.index)
    matched = as_text(report.runs, columns).assign(at=np.arange(len(report.runs))).merge(wanted, on=columns)
    runs = report.runs.iloc[matched["at"].to_numpy()].assign(row=matched["row"].to_numpy())  # the best rows' runs only
    runs = runs.assign(_seed=pd.to_numeric(runs["seed"], errors="coerce")).sort_values(["row", "_seed", "run_id"], kind="stable")
    capped = bool((runs.groupby("row").size() > CURVE_RUNS).any())
    runs = runs.groupby("row", sort=False).head(CURVE_RUNS)
    metrics = set(best["metric"])
    all_curves = curves(runs, keys={"train_loss", *metrics}).merge(runs[["run_id", "row"]], on="run_id")
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
        over = f"mean over the lowest {CURVE_RUNS} seeds of each" if capped else "mean over seeds"
        figure.suptitle(f"{title}: {over}, best {len(top)} configurations", fontsize=9)
        plots.append(Plot(f"curves-{index + 1}", f"Training curves, {title}", _png(figure)))
    return plots


def sweep_figures(studies: Sequence[Study]) -> list[Plot]:
    """The figures of every sweep, numbered from 1 (Optuna's figure module is imported only for a sweep)."""
    if not studies:
        return []
    from cnnbench.report.study_figures import study_figures

    return [plot for index, study in enumerate(studies, start=1) for plot in study_figures(study, index)]


def figures(report: Report) -> list[Plot]:
    """Every figure of ``report``, in the order the report shows them.

    The sweeps' Optuna figures (the slowest: about 1.7 s for one 40-trial study) are drawn in a forked
    process while this one draws the others (:func:`cnnbench.report.aside.aside`); the figures are the same
    bytes either way. Names come from records, so ``$`` in them is text, not mathtext (``"a$\\x$"`` would
    not parse).
    """
    drawing = aside(sweep_figures, report.studies) if report.studies else contextlib.nullcontext(list)
    with drawing as sweeps, rc_context({"text.parse_math": False}):
        found = [choice_plot(report, slot) for slot in DEFAULT_BASELINE if slot in report.keys]
        found.append(pareto_plot(report))
        found = [plot for plot in found if plot is not None] + curve_plots(report)
        return found + sweeps()
