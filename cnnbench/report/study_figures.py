"""Each sweep's figures, drawn by Optuna's own ``optuna.visualization.matplotlib`` from the rebuilt study.

The optimisation history (with the pruned trials, which Optuna's figure leaves out, drawn at the value
they last reported), and with parameters: the slice plot, and from two parameters on the contour plot,
the parallel coordinates and the fANOVA importances (one parameter would always score 1.0). Optuna draws
through pyplot and sets its own style: every figure is made inside :func:`matplotlib.rc_context`, and
closed, so the process's matplotlib settings and figure list are as they were.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable

import matplotlib
import numpy as np
import optuna
from matplotlib.ticker import MaxNLocator
from optuna.visualization import matplotlib as optuna_plots

from cnnbench.report.blocks import Plot
from cnnbench.report.studies import Study, optuna_study

#: parameters shown in the slice and parallel-coordinate plots, and in the contour grid (the most important)
SLICE_PARAMS = 6
CONTOUR_PARAMS = 3


def _png(draw: Callable[[], object], width: float, height: float, math: bool = True) -> bytes:
    """Draw one Optuna figure at ``width`` x ``height`` inches; the labels decide the margins (nothing cut).

    ``math``: mathtext on, so a log axis reads 10^-3 rather than its source text; off when a name from
    the records holds a ``$``, which mathtext would take for a formula."""
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": math}), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axes = draw()
        figure = np.ravel(axes)[0].figure
        try:
            figure.set_size_inches(width, height)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None})
        finally:
            plt.close(figure)
    return buffer.getvalue()


class _Computed(optuna.importance.BaseImportanceEvaluator):
    """The importances :func:`cnnbench.report.studies.importances` computed (fANOVA, seed 0), handed to Optuna's
    figure instead of a second fANOVA fit of the same trials."""

    def __init__(self, importances: dict[str, float]) -> None:
        self._importances = importances

    def evaluate(self, study: optuna.Study, params: list[str] | None = None, *, target: Callable[[optuna.trial.FrozenTrial], float] | None = None) -> dict[str, float]:
        return {name: value for name, value in self._importances.items() if params is None or name in params}


def _ranked(study: Study) -> list[str]:
    """The parameters, most important first (by name when there are no importances)."""
    return list(study.importances) or sorted(study.params)


def _history(rebuilt: optuna.Study, study: Study) -> object:
    axes = optuna_plots.plot_optimization_history(rebuilt, target_name=study.objective.metric)
    pruned = study.trials[study.trials["state"] == "pruned"].dropna(subset=["reached"])
    if not pruned.empty:
        axes.scatter(pruned["trial"], pruned["reached"], marker="x", color="#8c8c8c", zorder=3, label="pruned (value when stopped)")
        axes.legend(loc="best", fontsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"Optimisation history: {study.name}")
    axes.set_ylabel(f"{study.objective.metric} (validation)")
    return axes


def study_figures(study: Study, index: int) -> list[Plot]:
    """The figures of one study, named ``study-<index>-<kind>``."""
    rebuilt = optuna_study(study)
    name, label = f"study-{index}", f"{study.objective.metric} (validation)"
    png = functools.partial(_png, math=not any("$" in text for text in (*study.params, study.name, study.objective.metric)))
    plots = [Plot(f"{name}-history", f"Optimisation history of study {study.name}: every trial, pruned ones included", png(lambda: _history(rebuilt, study), 7, 3.6))]
    completed = int((study.trials["state"] == "completed").sum())
    params = _ranked(study)
    if not params or completed < 2:
        return plots
    shown = params[:SLICE_PARAMS]
    plots.append(
        Plot(f"{name}-slice", f"Slice plot of study {study.name}: {label} against each parameter", png(lambda: optuna_plots.plot_slice(rebuilt, params=shown, target_name=label), min(3.2 * len(shown), 12), 3.4))
    )
    if len(params) < 2:
        return plots
    grid = params[:CONTOUR_PARAMS]
    side = 4.2 if len(grid) == 2 else 3.0 * len(grid)
    plots.append(Plot(f"{name}-contour", f"Contour plot of study {study.name}: {label} over pairs of parameters", png(lambda: optuna_plots.plot_contour(rebuilt, params=grid, target_name=label), side + 1.5, side)))
    plots.append(
        Plot(f"{name}-parallel", f"Parallel coordinates of study {study.name}", png(lambda: optuna_plots.plot_parallel_coordinate(rebuilt, params=shown, target_name=label), 8, 3.8))
    )
    if study.importances:
        evaluator = _Computed(study.importances)
        plots.append(
            Plot(
                f"{name}-importance",
                f"Parameter importances of study {study.name} (fANOVA)",
                png(lambda: optuna_plots.plot_param_importances(rebuilt, evaluator=evaluator, params=list(study.importances), target_name=label), 7, 1.4 + 0.4 * len(params)),
            )
        )
    return plots
