"""``cnnbench run`` and ``cnnbench sweep`` as Hydra apps, with a check of the whole config before Hydra acts.

``@hydra.main`` composes, creates the run folder, and only then calls the app, so a bad value is found
after the folder exists and Hydra prints its own multi-line error. Here the command line is read with
Hydra's own parser: ``--help``, ``--hydra-help``, ``--cfg``, ``--info`` and ``--shell-completion`` go to
Hydra as they are; a run is composed, checked (:mod:`cnnbench.preflight`) and handed to Hydra only when it
passes, so a rejected run leaves nothing behind. ``--config-dir DIR`` adds the user's presets
(``DIR/pooling/mixed03.yaml``, ``DIR/sweep/NAME.yaml``, ``DIR/experiment/NAME.yaml``) as Hydra does;
plugin distributions add theirs through a ``hydra_plugins`` SearchPathPlugin (docs/plugins.md).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hydra._internal.utils import _run_hydra, get_args_parser, run_and_report
from hydra.types import RunMode, TaskFunction
from omegaconf import DictConfig

from cnnbench.composition import CONFIG_PATH, Session, composing, config_folder, storing
from cnnbench.credentials import mask_text
from cnnbench.errors import CnnbenchError
from cnnbench.overrides import parse_overrides

SHOW_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion")
#: what ``--shell-completion`` does, one of them given as an override (Hydra's words)
COMPLETION_ACTIONS = ("install", "uninstall", "query")
#: the shells Hydra completes
COMPLETION_SHELLS = ("bash", "zsh", "fish")


class ArgumentError(CnnbenchError):
    """A command line Hydra's parser refuses."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit
        raise ArgumentError(f"{message} (see `{self.prog} --help`)")


def hydra_parser(prog: str) -> argparse.ArgumentParser:
    """Hydra's own command-line parser, raising :class:`ArgumentError` instead of exiting."""
    parser = get_args_parser()
    parser.__class__ = _Parser
    parser.prog = prog
    return parser


def parse(argv: Sequence[str], prog: str) -> argparse.Namespace:
    return hydra_parser(prog).parse_intermixed_args(list(argv))  # flags anywhere: `a=1 -m b=1,2`


def shows_only(args: argparse.Namespace) -> bool:
    """Whether the command only shows something (help, config, info, completion) and runs nothing."""
    return any(getattr(args, flag) for flag in SHOW_FLAGS)


def sweep_values(overrides: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``key=a,b`` and ``key=range(..)`` overrides of a multirun as (key, values), the key with its ``+`` if it
    has one; intervals and globs are left out."""
    found = []
    for override in parse_overrides(overrides):
        if override.is_choice_sweep() or override.is_range_sweep():
            found.append((override.get_key_element(), list(override.sweep_iterator())))
    return found


def show(args: argparse.Namespace, config_name: str, task_name: str) -> int:
    """Hand a showing command (help, config, info, completion) to Hydra itself, with every installed
    component an option; what it prints is shown with the credentials of every URL in it masked
    (``--cfg job`` prints ``sweep.storage``)."""
    if args.shell_completion:
        check_completion(args.overrides)
    with storing():
        if args.overrides and not args.shell_completion:  # Hydra would refuse a bad one in several lines, exit 1
            with composing(config_dir=args.config_dir) as session:
                session.compose(config_name, args.overrides)
        config_folder(args.config_dir)
        return _shown_by_hydra(args, config_name, task_name)


def check_completion(overrides: Sequence[str]) -> None:
    """``--shell-completion`` names an action and one of Hydra's shells (Hydra raises a ValueError for any other)."""
    shells = f"{', '.join(COMPLETION_SHELLS[:-1])} or {COMPLETION_SHELLS[-1]}"
    actions = [o for o in overrides if o.partition("=")[0] in COMPLETION_ACTIONS]
    if not actions:
        raise CnnbenchError(f"--shell-completion needs install=SHELL, uninstall=SHELL or query=SHELL (SHELL: {shells}), e.g. --shell-completion install=bash")
    for action in actions:
        verb, _, shell = action.partition("=")
        if shell not in COMPLETION_SHELLS:
            raise CnnbenchError(f"--shell-completion {action}: {shell!r} is not a shell Hydra completes; give {verb}=SHELL with SHELL {shells}")
        if verb == "query" and "COMP_LINE" not in os.environ:  # Hydra reads the line being completed from it
            raise CnnbenchError(f"--shell-completion {action} is what the installed completion script runs, with the line in COMP_LINE; to set completion up, eval \"$(cnnbench run --shell-completion install={shell})\"")


def _shown_by_hydra(args: argparse.Namespace, config_name: str, task_name: str) -> int:
    parser = hydra_parser(f"cnnbench {task_name}")
    argv = sys.argv
    sys.argv = ["cnnbench", *argv[1:]]  # completion scripts name the program from argv[0]
    shown = io.StringIO()
    code = 0
    try:
        with _quiet_root_logging(), contextlib.redirect_stdout(shown):
            _run_hydra(args=args, args_parser=parser, task_function=_noop, config_path=CONFIG_PATH, config_name=config_name)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        sys.argv = argv
        sys.stdout.write(mask_text(shown.getvalue()))
    return code


def _noop(cfg: DictConfig) -> None:
    """The task of a showing command: Hydra shows and never calls it."""


@contextlib.contextmanager
def _quiet_root_logging() -> Iterator[None]:
    """Hydra logs --info through its own handlers; cnnbench's root handler would print every line twice."""
    import logging

    root = logging.getLogger()
    handlers = root.handlers[:]
    for handler in handlers:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            root.addHandler(handler)


@dataclass
class Launch:
    """A checked command: Hydra's parsed arguments and the run mode its config asks for."""

    args: argparse.Namespace
    config_name: str
    mode: RunMode
    extra: tuple[str, ...] = ()  # overrides of Hydra's own settings, after the user's


def run_mode(args: argparse.Namespace, cfg: DictConfig) -> RunMode:
    """``-m``, or ``hydra.mode`` of the composed config (an experiment may ask for a multirun)."""
    return RunMode.MULTIRUN if args.multirun or cfg.hydra.mode == RunMode.MULTIRUN else RunMode.RUN


def first_compose(session: Session, config_name: str, args: argparse.Namespace) -> DictConfig:
    """The config as the command asks for it: a multirun's without its swept values."""
    return session.compose(config_name, args.overrides, RunMode.MULTIRUN if args.multirun else RunMode.RUN)


def launch(session: Session, launch_: Launch, task: TaskFunction) -> list[Any]:
    """Run ``task`` under Hydra (its run folder, logging, launcher and sweeper), as ``@hydra.main`` would;
    the values ``task`` returned, one per job (from every launcher's processes)."""
    overrides = [*launch_.args.overrides, f"hydra.mode={launch_.mode.name}", *launch_.extra]
    hydra = session.hydra
    if launch_.mode == RunMode.RUN:
        done = run_and_report(lambda: hydra.run(config_name=launch_.config_name, task_function=task, overrides=overrides))
        return [done.return_value]
    batches = run_and_report(lambda: hydra.multirun(config_name=launch_.config_name, task_function=task, overrides=overrides))
    end_idle_workers()
    return [job.return_value for batch in batches or [] for job in batch]


def end_idle_workers() -> None:
    """End the worker processes joblib's loky keeps for reuse once every job has returned: left to the
    interpreter's exit, loky waits for each to finalise torch (1.5-4 s measured on this 2-core machine)."""
    reusable = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(reusable, "_executor", None)  # loky's module-level executor; it has no public accessor
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
