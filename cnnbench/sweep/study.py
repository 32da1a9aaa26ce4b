"""Create or continue the Optuna study of a sweep, and decide how many slots this run fills."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
from optuna.trial import TrialState

from cnnbench.credentials import mask_url, scrub
from cnnbench.sweep.accounting import Tally, latest_attempts, requeue
from cnnbench.sweep.setup import Sweep
from cnnbench.sweep.space import SweepConfigError
from cnnbench.sweep.storage import StorageError, open_storage
from cnnbench.sweep.strategy import make_pruner, make_sampler

SPACE_ATTR = "cnnbench.space"


def quiet_optuna() -> None:
    """The sweep reports trials itself; Optuna's per-trial logs and experimental-feature warnings are noise."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")


def open_study(sweep: Sweep, worker: int = 0) -> optuna.Study:
    """Load the study, or create it; refuse one created with another search space or other objectives.

    The sampler is seeded from ``sweep.seed``, the worker's index and the trials already in the study, so
    parallel workers and resumed runs do not propose the same points again.
    """
    settings = sweep.settings
    storage = open_storage(sweep.storage, settings.heartbeat_s, settings.max_retry)
    directions = [o.direction for o in sweep.objectives]
    pruner = make_pruner(settings.pruner, settings.pruner_args, sweep.steps)
    try:
        study = optuna.create_study(storage=storage, study_name=sweep.study_name, directions=directions, pruner=pruner, load_if_exists=True)
    except Exception as error:  # noqa: BLE001 (the database's complaint, in one line without credentials)
        raise StorageError(f"cannot open study {sweep.study_name!r} in {mask_url(sweep.storage)}: {scrub(str(error), sweep.storage)}") from None
    fingerprint = sweep.space.fingerprint(sweep.objectives)
    stored = study.user_attrs.get(SPACE_ATTR)
    if [d.name.lower() for d in study.directions] != directions or stored not in (None, fingerprint):
        raise SweepConfigError(
            f"study {sweep.study_name!r} in {mask_url(sweep.storage)} was created with another search space or other objectives; "
            "name a new one with sweep.study=..."
        )
    if stored is None:
        study.set_user_attr(SPACE_ATTR, fingerprint)
    if study.metric_names is None:  # optuna-dashboard's axis titles, instead of "Objective 0"
        study.set_metric_names([f"{o.metric} (validation)" for o in sweep.objectives])
    seed = int(np.random.SeedSequence([settings.seed, worker, len(study.get_trials(deepcopy=False))]).generate_state(1)[0])
    study.sampler = make_sampler(settings.sampler, settings.sampler_args, sweep.space, seed, settings.seed)
    return study


def slots_to_fill(sweep: Sweep, study: optuna.Study) -> int:
    """The number of slots this run completes the study to: ``sweep.trials``, or, to retry the failed
    trials only, the slots the study already has (so no new trial starts)."""
    if not sweep.settings.retry_failed:
        return sweep.trials
    for trial in latest_attempts(study.get_trials(deepcopy=False)).values():
        if trial.state == TrialState.FAIL:
            requeue(study, trial)
    return min(sweep.trials, Tally.of(study.get_trials(deepcopy=False)).slots)
