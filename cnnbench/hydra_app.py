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
import difflib
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra._internal.hydra import Hydra
from hydra._internal.utils import _run_hydra, create_automatic_config_search_path, get_args_parser, run_and_report
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from hydra.types import RunMode, TaskFunction
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cnnbench.configstore import CONFIG_MODULE, GROUPS
from cnnbench.errors import CnnbenchError
from cnnbench.overrides import check_group_overrides, parse_overrides

CONFIG_PATH = f"pkg://{CONFIG_MODULE}"
SHOW_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion")
_NOT_IN_STRUCT = re.compile(r"Could not (?:override|append to|delete from) '([^']+)'")


class ArgumentError(CnnbenchError):
    """A command line Hydra's parser refuses."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and exit
        raise ArgumentError(message)


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


def _config_dir(path: str | None) -> str | None:
    if path is None:
        return None
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        raise ArgumentError(f"--config-dir {path}: no such folder; give a folder of presets such as DIR/pooling/NAME.yaml")
    return absolute


@contextlib.contextmanager
def hydra_session(config_dir: str | None, task_name: str) -> Iterator[Hydra]:
    """Hydra's global state over cnnbench's configs (and ``config_dir``'s), cleared on leaving."""
    search_path = create_automatic_config_search_path(None, None, CONFIG_PATH)
    directory = _config_dir(config_dir)
    if directory:
        from hydra.core.config_search_path import SearchPathQuery

        search_path.prepend(provider="command-line", path=f"file://{directory}", anchor=SearchPathQuery(provider="schema"))
    GlobalHydra.instance().clear()
    hydra = Hydra.create_main_hydra2(task_name=task_name, config_search_path=search_path)
    try:
        yield hydra
    finally:
        GlobalHydra.instance().clear()


def first_line(error: BaseException) -> str:
    text = " ".join(line.strip() for line in str(error).strip().splitlines()[:2] if line.strip())
    return text or type(error).__name__


def _leaf_keys(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, Mapping):
        return [prefix.rstrip(".")] if prefix else []
    keys = [prefix.rstrip(".")] if prefix else []
    for key, value in node.items():
        keys += _leaf_keys(value, f"{prefix}{key}.")
    return keys


def _no_hyperparameter(slot: str, name: Any, key: str) -> CnnbenchError:
    from cnnbench.config_schema import closest
    from cnnbench.plugins import default_registry

    registry = default_registry()
    has = [c.name for c in registry.components(slot) if key in c.defaults]
    own = dict(registry.get(slot, str(name)).defaults) if name in registry.names(slot) else {}
    others = f"; {slot}s with {key}: {', '.join(has)}" if has else ""
    return CnnbenchError(f"{slot} {name!r} has no hyperparameter {key}: {closest(key, own)}it has: {', '.join(own) or 'none'}{others}")


def check_groups(hydra: Hydra, overrides: Sequence[str]) -> None:
    """Every ``group=option`` override names an option of its group (one line with the closest ones)."""
    loader = hydra.config_loader
    groups = [g for g in loader.list_groups("") if g != "hydra"]
    check_group_overrides(overrides, groups, loader.get_group_options)


def compose(hydra: Hydra, config_name: str, overrides: Sequence[str], mode: RunMode = RunMode.RUN) -> DictConfig:
    """Compose as Hydra would run it; Hydra's complaints become one line, an unknown key with the closest ones."""
    check_groups(hydra, overrides)
    try:
        return hydra.compose_config(config_name, list(overrides), run_mode=mode, with_log_configuration=False)
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        unknown = _NOT_IN_STRUCT.search(str(error))
        if unknown and "not in struct" in f"{error} {error.__cause__}":
            raise _unknown_override(hydra, config_name, overrides, unknown.group(1), mode) from None
        raise CnnbenchError(first_line(error)) from None


def _unknown_override(hydra: Hydra, config_name: str, overrides: Sequence[str], key: str, mode: RunMode) -> CnnbenchError:
    rest = [o for o in overrides if not o.lstrip("+~").startswith(f"{key}=") and o.lstrip("+~") != key]
    try:
        cfg = hydra.compose_config(config_name, rest, run_mode=mode, with_log_configuration=False)
    except (HydraException, OmegaConfBaseException, ValueError):
        cfg = hydra.compose_config(config_name, [], run_mode=mode, with_log_configuration=False)
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    if parent in GROUPS and isinstance(plain.get(parent), Mapping):
        return _no_hyperparameter(parent, plain[parent].get("name"), key.rsplit(".", 1)[1])
    keys = [k for k in _leaf_keys(plain) if k != parent]
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    siblings = sorted(k for k in keys if parent and k.startswith(f"{parent}.") and k.count(".") == key.count("."))
    hint = f"did you mean {', '.join(close)}? " if close else ""
    known = f"keys of {parent}: {', '.join(siblings)}" if siblings else "see `cnnbench run --cfg job` for every key"
    return CnnbenchError(f"unknown config key {key}: {hint}{known} (+{key}=... adds a new key)")


def sweep_values(overrides: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``key=a,b`` and ``key=range(..)`` overrides of a multirun as (key, values), the key with its ``+`` if it
    has one; intervals and globs are left out."""
    found = []
    for override in parse_overrides(overrides):
        if override.is_choice_sweep() or override.is_range_sweep():
            found.append((override.get_key_element(), list(override.sweep_iterator())))
    return found


def show(args: argparse.Namespace, config_name: str, task_name: str) -> int:
    """Hand a showing command (help, config, info, completion) to Hydra itself."""
    _config_dir(args.config_dir)  # Hydra would say so in several lines
    parser = hydra_parser(f"cnnbench {task_name}")
    argv = sys.argv
    sys.argv = ["cnnbench", *argv[1:]]  # completion scripts name the program from argv[0]
    try:
        with _quiet_root_logging():
            _run_hydra(args=args, args_parser=parser, task_function=_noop, config_path=CONFIG_PATH, config_name=config_name)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        sys.argv = argv
    return 0


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


def run_mode(args: argparse.Namespace, cfg: DictConfig) -> RunMode:
    """``-m``, or ``hydra.mode`` of the composed config (an experiment may ask for a multirun)."""
    return RunMode.MULTIRUN if args.multirun or cfg.hydra.mode == RunMode.MULTIRUN else RunMode.RUN


def first_compose(hydra: Hydra, config_name: str, args: argparse.Namespace) -> DictConfig:
    """The config as the command asks for it: a multirun's without its swept values."""
    return compose(hydra, config_name, args.overrides, RunMode.MULTIRUN if args.multirun else RunMode.RUN)


def launch(hydra: Hydra, launch_: Launch, task: TaskFunction) -> None:
    """Run ``task`` under Hydra (its run folder, logging, launcher and sweeper), as ``@hydra.main`` would."""
    overrides = [*launch_.args.overrides, f"hydra.mode={launch_.mode.name}"]
    if launch_.mode == RunMode.RUN:
        run_and_report(lambda: hydra.run(config_name=launch_.config_name, task_function=task, overrides=overrides))
    else:
        run_and_report(lambda: hydra.multirun(config_name=launch_.config_name, task_function=task, overrides=overrides))

