"""The ``cnnbench`` command: one sub-command per job, each in its own module.

``run`` and ``sweep`` hand their arguments to Hydra; the others parse theirs with argparse. Any
:class:`~cnnbench.errors.CnnbenchError` ends the command with its one-line message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cnnbench import __version__
from cnnbench.errors import CnnbenchError

#: sub-command -> module with ``configure(parser)`` and ``main(args) -> int``
COMMANDS = {
    "list": "cnnbench.listing",
    "run": "cnnbench.app",
    "sweep": "cnnbench.sweep.app",
    "report": "cnnbench.report.cli",
    "bench": "cnnbench.bench.cli",
}
HELP = {
    "list": "list the registered components and their hyperparameters",
    "run": "run a benchmark (Hydra overrides; -m for a multirun)",
    "sweep": "search hyperparameters with Optuna (Hydra overrides)",
    "report": "build the leaderboard and ablation report from run records",
    "bench": "time every component against its PyTorch built-in",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnbench", description="Benchmark and ablate the building blocks of convolutional networks.")
    parser.add_argument("--version", action="version", version=f"cnnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=HELP[name], description=HELP[name])
        command.set_defaults(module=module)
        importlib.import_module(module).configure(command)
    return parser


def error_exit(message: str, code: int = 2) -> int:
    print(f"cnnbench: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="cnnbench: %(message)s")
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # Hydra's own flags (-m, --cfg job, ...) belong to the Hydra-backed commands
        if not getattr(args, "hydra_passthrough", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.overrides = [*unknown, *args.overrides]
    try:
        return importlib.import_module(args.module).main(args)
    except CnnbenchError as error:
        return error_exit(str(error), error.exit_code)
    except KeyboardInterrupt:
        return error_exit("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
