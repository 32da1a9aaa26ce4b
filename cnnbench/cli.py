"""The ``cnnbench`` command: one sub-command per job, each in its own module.

``run`` and ``sweep`` hand their arguments to Hydra (``--help`` is Hydra's app help); the others parse
theirs with argparse. Exit status: 0 done, 2 bad input (one ``cnnbench: error:`` line, before any work),
1 a failure while working (a failed run, a worker that died), 130 interrupted. Any
:class:`~cnnbench.errors.CnnbenchError` ends the command with its one-line message.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

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
#: the sub-commands that are Hydra apps: their flags, --help included, go to Hydra
HYDRA_COMMANDS = ("run", "sweep")
COMPLETION_FLAGS = ("-sc", "--shell-completion")
HELP = {
    "list": "list the registered components and their hyperparameters",
    "run": "run a benchmark (Hydra overrides; -m for a multirun)",
    "sweep": "search hyperparameters with Optuna (Hydra overrides)",
    "report": "build the leaderboard and ablation report from run records",
    "bench": "time every component against its PyTorch built-in",
}


class ArgumentError(CnnbenchError):
    """A command line argparse refuses."""


class Parser(argparse.ArgumentParser):
    """argparse, but a refused command line is cnnbench's one line (argparse prints usage and exits)."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cnnbench", description="Benchmark and ablate the building blocks of convolutional networks.")
    parser.add_argument("--version", action="version", version=f"cnnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        command = sub.add_parser(name, help=HELP[name], description=HELP[name], add_help=name not in HYDRA_COMMANDS)
        command.set_defaults(module=module)
        importlib.import_module(module).configure(command)
    return parser


def error_exit(message: str, code: int = 2) -> int:
    """Print the one error line, every URL's credentials masked (an override may quote a storage URL)."""
    from cnnbench.credentials import mask_text

    print(f"cnnbench: error: {mask_text(message)}", file=sys.stderr)
    return code


def _completion_query(argv: Sequence[str]) -> list[str] | None:
    """``cnnbench -sc query=bash``, as Hydra's completion script calls it: route it to the sub-command's app.

    The script runs the program with the whole line in ``COMP_LINE``; the sub-command's Hydra app must see
    that line without it, as if it were a program of its own.
    """
    if len(argv) != 2 or argv[0] not in COMPLETION_FLAGS or not argv[1].startswith("query="):
        return None
    words = os.environ.get("COMP_LINE", "").split(" ")
    if len(words) > 1 and words[1] in HYDRA_COMMANDS:
        os.environ["COMP_LINE"] = " ".join([words[0], *words[2:]])
        return [words[1], *argv]
    word = words[1] if len(words) > 1 else ""
    print(" ".join(name for name in COMMANDS if name.startswith(word)))
    return []


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="cnnbench: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    routed = _completion_query(argv)
    if routed == []:
        return 0
    argv = routed or argv
    try:
        if argv and argv[0] in HYDRA_COMMANDS:  # every flag, --help included, is Hydra's
            args = argparse.Namespace(command=argv[0], module=COMMANDS[argv[0]], overrides=argv[1:])
        else:
            args, extra = build_parser().parse_known_args(argv)
            if extra:  # argparse would name the top-level program and its help, not the command's
                prog = f"cnnbench {args.command}"
                raise ArgumentError(f"{prog}: unrecognized arguments: {' '.join(extra)} (see `{prog} --help`)")
        return importlib.import_module(args.module).main(args)
    except CnnbenchError as error:
        return error_exit(str(error), error.exit_code)
    except KeyboardInterrupt:
        return error_exit("interrupted", 130)
    except BrokenPipeError:  # `cnnbench list --json | head`: the reader has what it wanted
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail on the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    finally:
        os.close(devnull)


def entry() -> NoReturn:
    """The ``cnnbench`` program: :func:`main` (which the tests call), then an exit without Python's final
    garbage collections (``gc.freeze``). They would walk every object the command leaves (0.4 s after a
    report of 100,000 records, measured with benchmarks/report_load.py) for memory the exit returns anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
