"""``cnnbench sweep``: an Optuna study over the benchmark that ``cnnbench run`` composes.

Running the same command again continues the same study; ``sweep.workers=N`` runs N worker processes
here, and other machines join with the same command and ``sweep.storage`` pointing at a shared database.
"""

from __future__ import annotations

import argparse

HELP_EPILOG = """examples:
  cnnbench sweep sweep=mixed_lambda sweep.trials=30          mixed-pooling lambda on LeNet-5 / digits
  cnnbench sweep sweep=leaky_relu_slope sweep.seeds=[0,1,2]  optimise the mean over three seeds
  cnnbench sweep sweep=component_choice sweep.workers=2      the best activation and pooling, two processes
  cnnbench sweep sweep=pooling_pareto                        accuracy against training time (Pareto front)
  CNNBENCH_SWEEP_STORAGE=postgresql://user:pw@db/optuna cnnbench sweep sweep=learning_rate   on every machine
  cnnbench sweep sweep=mixed_lambda sweep.retry_failed=true  run the failed trials again
presets: conf/sweep/*.yaml; search spaces, samplers and pruners: docs/sweeps.md"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides of the benchmark and of sweep.*")


def main(args: argparse.Namespace) -> int:
    from cnnbench.plugins import default_registry
    from cnnbench.sweep.compose import hydra_context
    from cnnbench.sweep.objective import TrialRunner
    from cnnbench.sweep.progress import Progress
    from cnnbench.sweep.report import report
    from cnnbench.sweep.setup import prepare
    from cnnbench.sweep.study import open_study, quiet_optuna, slots_to_fill
    from cnnbench.sweep.worker import helper_processes, work

    quiet_optuna()
    registry = default_registry()
    with hydra_context(registry):
        sweep = prepare(args.overrides, registry)
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
