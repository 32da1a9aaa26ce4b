"""``cnnbench run``: the Hydra app over ``conf/``; ``-m`` runs the cross product of the overrides.

The registry feeds Hydra's ConfigStore first, so every installed component is a config option.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbench.records import RunRecord

HELP_EPILOG = """examples:
  cnnbench run                                   LeNet-5 on the bundled digits, CPU
  cnnbench run activation=elu pooling=mixed pooling.lam=0.3
  cnnbench run -m activation=relu,elu pooling=max,avg trainer.seed=0,1,2
  cnnbench run experiment=ablation_lenet         the 60-run ablation (a multirun, joblib launcher)
  cnnbench run --cfg job                        show the composed config"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides and flags (-m, --cfg job, ...)")
    parser.set_defaults(hydra_passthrough=True)


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


def main(args: argparse.Namespace) -> int:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import DictConfig

    from cnnbench.configstore import store_components
    from cnnbench.errors import CnnbenchError
    from cnnbench.overrides import check_component_overrides
    from cnnbench.plugins import default_registry
    from cnnbench.training.execute import execute

    registry = default_registry()
    store_components(registry)
    check_component_overrides([o for o in args.overrides if "=" in o and not o.startswith("-")], registry)
    problems: list[str] = []

    @hydra.main(config_path="pkg://cnnbench_conf", config_name="config", version_base="1.3")
    def job(cfg: DictConfig) -> None:
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        try:
            record, path = execute(cfg, registry)
        except CnnbenchError as error:
            print(f"cnnbench: error: {error}", file=sys.stderr)
            if not multirun:
                raise SystemExit(error.exit_code) from None
            problems.append(str(error))  # a multirun goes on to the next run
            return
        print(summary_line(record, path), flush=True)

    sys.argv = ["cnnbench run", *args.overrides]
    try:
        job()
    except SystemExit as exit_:  # Hydra exits on its own errors; report the status instead
        return int(exit_.code or 0)
    if problems:
        print(f"cnnbench: {len(problems)} run(s) of the multirun did not complete", file=sys.stderr)
        return 1
    return 0
