"""The figures: the sweeps' ones drawn in a forked process are the same bytes as drawn in this one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnbench.report import aside, load, plots, study_figures
from cnnbench.report.build import build_report


@pytest.mark.skipif(not aside.FORKS, reason="the sweeps' figures are drawn in this process here")
def test_sweep_figures_drawn_aside_are_those_drawn_here(shared_results: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report = build_report(load(shared_results))
    real = study_figures.study_figures

    def drawn(study, index):
        (tmp_path / f"drawn-by-{os.getpid()}").touch()  # in the process that draws them
        return real(study, index)

    monkeypatch.setattr(study_figures, "study_figures", drawn)
    forked = plots.figures(report)
    drawn_by = [p.name for p in tmp_path.iterdir()]
    assert len(drawn_by) == 1 and drawn_by != [f"drawn-by-{os.getpid()}"]  # one other process drew them
    monkeypatch.setattr(aside, "FORKS", False)
    here = plots.figures(report)
    assert (tmp_path / f"drawn-by-{os.getpid()}").exists()
    assert [(p.name, p.title, p.png) for p in forked] == [(p.name, p.title, p.png) for p in here]
    assert [p.name for p in here][-5:] == [f"study-1-{kind}" for kind in ("history", "slice", "contour", "parallel", "importance")]


def test_a_failing_sweep_figure_fails_the_report(shared_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = build_report(load(shared_results))
    monkeypatch.setattr(study_figures, "study_figures", lambda study, index: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        plots.figures(report)
