"""``cnnbench sweep``: an Optuna study over the benchmark that ``cnnbench run`` composes.

Running the same command again continues the same study; ``sweep.workers=N`` runs N worker processes
here, and other machines join with the same command and ``sweep.storage`` pointing at a shared database.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides of the benchmark and of sweep.*: `cnnbench sweep --help`")


def main(args: argparse.Namespace) -> int:
    from cnnbench import hydra_app
    from cnnbench.composition import composing
    from cnnbench.errors import CnnbenchError
    from cnnbench.plugins import default_registry
    from cnnbench.sweep.objective import TrialRunner
    from cnnbench.sweep.progress import Progress
    from cnnbench.sweep.report import report
    from cnnbench.sweep.setup import prepare
    from cnnbench.sweep.study import open_study, quiet_optuna, slots_to_fill
    from cnnbench.sweep.worker import helper_processes, work

    parsed = hydra_app.parse(args.overrides, "cnnbench sweep")
    registry = default_registry()
    if hydra_app.shows_only(parsed):
        return hydra_app.show(parsed, "sweep_config", "sweep")
    if parsed.multirun or parsed.config_name or parsed.config_path or parsed.experimental_rerun:
        raise CnnbenchError("cnnbench sweep takes overrides, --config-dir and Hydra's showing flags (--cfg, --info, --help); it runs its trials itself (sweep.workers=N)")
    quiet_optuna()
    with composing(registry, config_dir=parsed.config_dir, task_name="sweep"):
        sweep = prepare(parsed.overrides, registry, parsed.config_dir)
        study = open_study(sweep)
        budget = slots_to_fill(sweep, study)
        with Progress(study, budget, sweep.objectives), helper_processes(sweep, budget) as helpers:
            work(study, TrialRunner(sweep), budget)
        status = report(sweep, study, budget)
    failed = [p.exitcode for p in helpers if p.exitcode]
    if failed:
        print(f"cnnbench: {len(failed)} worker process(es) ended with an error (exit codes {failed})")
        return max(status, 1)
    return status
