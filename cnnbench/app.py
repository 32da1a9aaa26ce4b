"""``cnnbench run``: the Hydra app over ``conf/``; ``-m`` runs the cross product of the overrides.

Composed through :mod:`cnnbench.composition`, so every installed component is a config option. The
composed config is checked (:mod:`cnnbench.preflight`) before Hydra creates a run folder; a multirun
checks each value of each swept key the same way, and each job again before it trains.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from cnnbench.records import RunRecord

from cnnbench.errors import CnnbenchError

log = logging.getLogger(__name__)

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
HELP = "run a benchmark (Hydra app: overrides, -m, --cfg job, --info, --help lists every option)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides and flags: `cnnbench run --help`")


def summary_line(record: RunRecord, path: Any) -> str:
    """The run's validation and test values of its objective (and the test's other scalars), on one line."""
    metric = record.objective.metric
    validation = record.metrics["validation"].get(metric)
    scalars = "  ".join(f"{k} {v:.4f}" for k, v in record.metrics["test"].items() if isinstance(v, int | float) and k != metric)
    return (
        f"{record.task}/{record.dataset} {record.model}: validation {metric} {validation:.4f}  test {metric} "
        f"{record.metrics['test'][metric]:.4f}  (test {scalars}; epoch {record.selection.epoch}, {record.selection.rule})"
        f"  [{record.timing['train_s']:.1f} s]  record: {path}"
    )


def _remove_job_folder(output_dir: str, results_dir: str) -> None:
    """A job refused inside Hydra (its data missing, say) leaves no run folder, nor empty folders above it."""
    folder, top = Path(output_dir), Path(results_dir).resolve()
    _close_log_files(folder)
    shutil.rmtree(folder, ignore_errors=True)
    for parent in folder.parents:
        if parent.resolve() == top or top not in parent.resolve().parents:
            break
        try:
            parent.rmdir()
        except OSError:
            break


def _close_log_files(folder: Path) -> None:
    """Detach the log files Hydra opened in ``folder`` (its ``run.log``), so later logging in this process
    does not recreate the removed folder's file."""
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(folder.resolve()):
                logger.removeHandler(handler)
                handler.close()


def _multirun_checks(args: argparse.Namespace, base: Any) -> list[list[str]]:
    """The overrides of the first job, then of each other value of each swept key in it: what is checked
    before any job starts."""
    from omegaconf import OmegaConf

    from cnnbench.hydra_app import sweep_values
    from cnnbench.sweep.compose import override_value

    overrides = list(args.overrides)
    params = base.hydra.sweeper.get("params")
    configured = OmegaConf.to_container(params) if params is not None else {}
    swept = dict(sweep_values([f"{k}={v}" for k, v in configured.items()]) + sweep_values(overrides))
    swept_keys = {key.lstrip("+~") for key in swept}
    fixed = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in swept_keys]
    first = {key: values[0] for key, values in swept.items()}
    jobs = [first] + [{**first, key: value} for key, values in swept.items() for value in values[1:]]
    return [[*fixed, *(f"{k}={override_value(v)}" for k, v in job.items())] for job in jobs]


def _check_multirun(session: Any, args: argparse.Namespace, base: Any, registry: Any) -> None:
    """Every job of :func:`_multirun_checks`, checked while the joblib workers start beside this process;
    the results folders last, once no job can be refused, so a refused multirun leaves none behind."""
    from cnnbench.preflight import check_run, check_writable

    with _workers_warming(base):
        folders = []
        for overrides in _multirun_checks(args, base):
            job = session.compose("config", overrides)
            check_run(job, registry, defer_folder=True)
            folders.append(str(job.results.dir))
        for folder in dict.fromkeys(folders):
            check_writable(folder, "results.dir")


def _warm_worker() -> int:
    """What every job's process needs first: torch, cnnbench and the plugins; its pid."""
    import os

    from cnnbench.plugins import default_registry
    from cnnbench.training import execute  # noqa: F401 (torch and the loop)

    default_registry()
    return os.getpid()


@contextlib.contextmanager
def _workers_warming(cfg: Any) -> Iterator[None]:
    """Start the joblib launcher's worker processes while this process checks the jobs.

    Each worker imports torch and cnnbench and loads the plugins (3-5 s here) before its first job; started
    now, beside the checks, rather than after them. The same ``Parallel`` settings as Hydra's launcher, so
    loky's reusable executor hands the launcher these warm workers (their pids are logged at debug level).
    """
    from omegaconf import OmegaConf

    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    if "hydra_joblib_launcher" not in str(launcher.get("_target_", "")):
        yield
        return
    from joblib import Parallel, delayed, effective_n_jobs

    from cnnbench.hydra_app import end_idle_workers

    settings = {key: value for key, value in launcher.items() if key != "_target_"}
    count = effective_n_jobs(settings.get("n_jobs") or 1)
    warmed: list[int] = []
    thread = threading.Thread(target=lambda: warmed.extend(Parallel(**settings)(delayed(_warm_worker)() for _ in range(count))), daemon=True)
    thread.start()
    try:
        yield
    except BaseException:  # refused: let the workers finish starting (a killed start prints a traceback), then end them
        thread.join()
        end_idle_workers()
        raise
    thread.join()
    log.debug("joblib workers started while the jobs were checked: %s", sorted(set(warmed)))


def _checked_sweeper(cfg: Any) -> tuple[str, ...]:
    """Hydra's basic sweeper composes every job twice, once in this process to validate it; the jobs are
    checked here already (:func:`_check_multirun`, then each before it trains), so use its variant that
    composes each once (``hydra_plugins/cnnbench_multirun``). Any other sweeper is left as configured."""
    if cfg.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return ()
    from hydra.core.plugins import Plugins

    from hydra_plugins.cnnbench_multirun import CheckedSweeper

    name = f"{CheckedSweeper.__module__}.{CheckedSweeper.__name__}"
    Plugins.instance().class_name_to_class.setdefault(name, CheckedSweeper)  # an editable install hides it from Hydra's scan
    return (f"hydra.sweeper._target_={name}",)


def run_job(cfg: DictConfig) -> str | None:
    """One job of ``cnnbench run`` under Hydra: ``None`` when it completed, else its one-line problem (a
    multirun goes on to the next job). A module-level function, so any launcher's processes can take it,
    and each loads the registry once."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from cnnbench.credentials import mask_text
    from cnnbench.plugins import default_registry
    from cnnbench.preflight import check_run
    from cnnbench.training.execute import RunFailed, execute

    registry = default_registry()
    runtime = HydraConfig.get()
    multirun = runtime.mode == RunMode.MULTIRUN
    try:
        if multirun:
            check_run(cfg, registry)
        record, path = execute(cfg, registry)
    except CnnbenchError as error:
        print(f"cnnbench: error: {mask_text(str(error))}", file=sys.stderr)
        if not isinstance(error, RunFailed):
            _remove_job_folder(runtime.runtime.output_dir, str(cfg.results.dir))
        if not multirun:
            raise SystemExit(error.exit_code) from None
        return str(error)
    print(summary_line(record, path), flush=True)
    return None


def main(args: argparse.Namespace) -> int:
    from hydra.types import RunMode

    from cnnbench import hydra_app
    from cnnbench.composition import composing
    from cnnbench.plugins import default_registry
    from cnnbench.preflight import check_run

    parsed = hydra_app.parse(args.overrides, "cnnbench run")
    registry = default_registry()
    if hydra_app.shows_only(parsed):
        return hydra_app.show(parsed, "config", "run")
    with composing(registry, config_dir=parsed.config_dir, task_name="run") as session:
        first = hydra_app.first_compose(session, "config", parsed)
        mode = hydra_app.run_mode(parsed, first)
        if mode == RunMode.RUN:
            check_run(first, registry)
        else:
            _check_multirun(session, parsed, first, registry)
        try:
            problems = [p for p in hydra_app.launch(session, hydra_app.Launch(parsed, "config", mode, _checked_sweeper(first)), run_job) if p]
        except SystemExit as exit_:  # Hydra exits on its own errors; report the status instead
            return int(exit_.code or 0)
    if problems:
        print(f"cnnbench: {len(problems)} run(s) of the multirun did not complete", file=sys.stderr)
        return 1
    return 0
