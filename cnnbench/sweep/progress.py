"""The live progress of a sweep, read from the study's storage so that it sees every worker on every machine.

A status line (slots done of the budget, running, pruned, failed, best value so far) redraws in place on a
terminal; each trial that finishes gets one printed line.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.live import Live
from rich.text import Text

from cnnbench.sweep.accounting import ERROR, Tally, is_surplus
from cnnbench.sweep.space import Objective


def params_text(params: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def value_text(trial: FrozenTrial, objectives: Sequence[Objective]) -> str:
    """Each objective's validation value (what the study optimised), ± its spread over seeds, then its test value."""
    values = trial.values or []
    spread = trial.user_attrs.get("spread") or [None] * len(values)
    tests = trial.user_attrs.get("test_values") or [None] * len(values)
    return "  ".join(
        f"validation {o.metric} {v:.4f}" + (f" ± {s:.4f}" if s is not None else "") + (f" (test {t:.4f})" if t is not None else "")
        for o, v, s, t in zip(objectives, values, spread, tests, strict=False)
    )


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The storage's best trial (one objective) or its Pareto front (several); none before one completes."""
    if len(study.directions) > 1:
        return study.best_trials
    try:
        return [study.best_trial]
    except ValueError:  # no complete trial yet
        return []


def trial_line(trial: FrozenTrial, objectives: Sequence[Objective]) -> str:
    params = params_text(trial.params)
    if trial.state == TrialState.COMPLETE:
        return f"trial {trial.number} complete  {value_text(trial, objectives)}  {params}"
    if trial.state == TrialState.PRUNED:
        step = trial.last_step
        return f"trial {trial.number} pruned at step {step}  {objectives[0].metric} {trial.intermediate_values.get(step, float('nan')):.4f}  {params}"
    return f"trial {trial.number} failed: {trial.user_attrs.get(ERROR) or 'worker died'}  {params}"


def status_line(name: str, tally: Tally, budget: int, best: Sequence[FrozenTrial], objectives: Sequence[Objective]) -> str:
    line = (
        f"{name}: {tally.done}/{budget} done  {tally.running} running  {tally.complete} complete  "
        f"{tally.pruned} pruned  {tally.failed} failed"
    )
    if len(objectives) > 1:
        return line + f"  pareto front: {len(best)} trial(s)"
    if best:
        line += f"  best {value_text(best[0], objectives)} (trial {best[0].number})"
    return line


class Progress:
    """Polls the study every ``interval`` seconds in a background thread while the sweep runs."""

    def __init__(self, study: optuna.Study, budget: int, objectives: Sequence[Objective], interval: float = 1.0) -> None:
        self.study, self.budget, self.objectives, self.interval = study, budget, objectives, interval
        self.console = Console(stderr=True, highlight=False)
        self._reported = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
        self._live = Live(Text(""), console=self.console, auto_refresh=False, transient=True)  # redrawn by poll()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cnnbench-sweep-progress", daemon=True)

    def poll(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state.is_finished() and trial.number not in self._reported and not is_surplus(trial):
                self._reported.add(trial.number)
                self._live.console.print(trial_line(trial, self.objectives), soft_wrap=True)
        line = status_line(self.study.study_name, Tally.of(trials), self.budget, best_trials(self.study), self.objectives)
        self._live.update(Text(line), refresh=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def __enter__(self) -> Self:
        self._live.start()
        self.poll()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        self._live.stop()
