"""The one way to compose a cnnbench config: store the registry, open Hydra over cnnbench's configs, compose.

``cnnbench run``, ``cnnbench sweep``, the tests, the benchmarks and a notebook all go through
:func:`composing`: it makes every registered component an option of its config group (and puts back the
registry stored before when it ends), adds the presets of ``--config-dir``, and yields a
:class:`Session` whose :meth:`~Session.compose` turns Hydra's complaints into one line (an unknown key with
the closest known ones). :func:`compose_run_config` is the one-call form.

>>> with composing() as session:  # doctest: +SKIP
...     cfg = session.compose("config", ["pooling=avg"])
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_automatic_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from cnnbench.configstore import CONFIG_MODULE, GROUPS, store_components
from cnnbench.errors import CnnbenchError, UnknownComponentError
from cnnbench.overrides import check_group_overrides
from cnnbench.registry import Registry

CONFIG_PATH = f"pkg://{CONFIG_MODULE}"
_NOT_IN_STRUCT = re.compile(r"Could not (?:override|append to|delete from) '([^']+)'")
_stored: list[Registry] = []  # the registries stored by the open sessions, innermost last
_open: list[Session] = []


@dataclass(frozen=True)
class Session:
    """Hydra's global state over cnnbench's configs and the presets of ``config_dir``."""

    hydra: Hydra
    config_dir: str | None

    def compose(self, config_name: str = "config", overrides: Sequence[str] = (), mode: RunMode = RunMode.RUN) -> DictConfig:
        """Compose as Hydra would run it (the ``hydra`` node kept); a bad override is one line."""
        check_groups(self.hydra, overrides)
        try:
            return self.hydra.compose_config(config_name, list(overrides), run_mode=mode, with_log_configuration=False)
        except UnicodeDecodeError as error:  # a preset of --config-dir that is not UTF-8: Hydra does not say which file
            raise CnnbenchError(_not_utf8(error, self.config_dir)) from None
        except (HydraException, OmegaConfBaseException, ValueError) as error:
            unknown = _NOT_IN_STRUCT.search(str(error))
            if unknown and "not in struct" in f"{error} {error.__cause__}":
                raise self._unknown_override(config_name, overrides, unknown.group(1), mode, error) from None
            raise CnnbenchError(first_line(error)) from None
        except yaml.YAMLError as error:  # a preset of --config-dir that is not YAML: Hydra lets the parser's error through
            raise CnnbenchError(_not_yaml(error)) from None

    def _unknown_override(self, config_name: str, overrides: Sequence[str], key: str, mode: RunMode, error: BaseException) -> CnnbenchError:
        rest = [o for o in overrides if not o.lstrip("+~").startswith(f"{key}=") and o.lstrip("+~") != key]
        try:
            cfg = self.hydra.compose_config(config_name, rest, run_mode=mode, with_log_configuration=False)
        except (HydraException, OmegaConfBaseException, ValueError):
            cfg = self.hydra.compose_config(config_name, [], run_mode=mode, with_log_configuration=False)
        plain = OmegaConf.to_container(cfg, resolve=False)
        plain.pop("hydra", None)
        found = _lookup(plain, key)
        if isinstance(found, Mapping):  # the key is there: the mapping given to it named a key it does not have
            return _closed_mapping(key, found, getattr(error.__cause__, "full_key", "") or "")
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        if parent in GROUPS and isinstance(plain.get(parent), Mapping):
            return _no_hyperparameter(parent, plain[parent].get("name"), key.rsplit(".", 1)[1])
        keys = [k for k in _leaf_keys(plain) if k != parent]
        close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
        siblings = sorted(k for k in keys if parent and k.startswith(f"{parent}.") and k.count(".") == key.count("."))
        hint = f"did you mean {', '.join(close)}? " if close else ""
        known = f"keys of {parent}: {', '.join(siblings)}" if siblings else "see `cnnbench run --cfg job` for every key"
        return CnnbenchError(f"unknown config key {key}: {hint}{known}")


def _not_yaml(error: yaml.YAMLError) -> str:
    """``DIR/pooling/bad.yaml line 2, column 6: not valid YAML (expected ',' or ']' ...)``."""
    mark = getattr(error, "problem_mark", None)
    where = f"{mark.name} line {mark.line + 1}, column {mark.column + 1}" if mark else "a preset"
    return _bad_preset(where, getattr(error, "problem", None) or first_line(error))


def _not_utf8(error: UnicodeDecodeError, config_dir: str | None) -> str:
    """``DIR/activation/binary.yaml: not valid YAML (not UTF-8: ...)``; the file is the first of ``config_dir`` that
    does not decode, since the decoding error carries only the bytes."""
    undecodable = [path for path in sorted(Path(config_dir).rglob("*.yaml")) if not _decodes(path)] if config_dir else []
    where = str(undecodable[0]) if undecodable else "a preset"
    return _bad_preset(where, f"not UTF-8: byte 0x{error.object[error.start]:02x} at position {error.start}")


def _decodes(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bad_preset(where: str, problem: str) -> str:
    return f"{where}: not valid YAML ({problem}); fix the preset file or leave it out of --config-dir"


@contextmanager
def storing(registry: Registry | None = None) -> Iterator[Registry]:
    """Make every component of ``registry`` (the installed plugins' by default) a config option while open."""
    if registry is None:
        from cnnbench.plugins import default_registry

        registry = default_registry()
    store_components(registry)
    _stored.append(registry)
    try:
        yield registry
    finally:
        _stored.pop()
        if _stored and _stored[-1] is not registry:
            store_components(_stored[-1])


@contextmanager
def composing(registry: Registry | None = None, *, config_dir: str | None = None, task_name: str = "cnnbench") -> Iterator[Session]:
    """Store ``registry`` and open Hydra over cnnbench's configs and ``config_dir``'s presets.

    Inside an open session with the same ``config_dir``, the outer Hydra is reused with this registry's
    options, and the outer registry's come back on leaving.
    """
    with storing(registry):
        directory = config_folder(config_dir)
        if _open and _open[-1].config_dir == directory:
            yield _open[-1]
            return
        search_path = create_automatic_config_search_path(None, None, CONFIG_PATH)
        if directory:
            from hydra.core.config_search_path import SearchPathQuery

            search_path.prepend(provider="command-line", path=f"file://{directory}", anchor=SearchPathQuery(provider="schema"))
        outer = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
        GlobalHydra.instance().clear()
        opened = Session(Hydra.create_main_hydra2(task_name=task_name, config_search_path=search_path), directory)
        _open.append(opened)
        try:
            yield opened
        finally:
            _open.pop()
            GlobalHydra.instance().clear()
            if outer is not None:
                GlobalHydra.instance().initialize(outer)


def current() -> Session:
    """The innermost open :func:`composing` block (sweep trials compose inside the sweep's)."""
    if not _open:
        raise RuntimeError("no cnnbench.composition.composing() block is open")
    return _open[-1]


def compose_run_config(overrides: Sequence[str] = (), registry: Registry | None = None, config_dir: str | None = None) -> DictConfig:
    """The config ``cnnbench run <overrides>`` would run (without Hydra's own node), for notebooks and tests.

    >>> compose_run_config(["pooling=avg"]).pooling.name  # doctest: +SKIP
    'avg'
    """
    with composing(registry, config_dir=config_dir) as session:
        cfg = session.compose("config", overrides)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def config_folder(path: str | None) -> str | None:
    """``--config-dir``, absolute; a missing folder is one line (Hydra would say so in several)."""
    if path is None:
        return None
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        raise CnnbenchError(f"--config-dir {path}: no such folder; give a folder of presets such as DIR/pooling/NAME.yaml")
    return absolute


def check_groups(hydra: Hydra, overrides: Sequence[str]) -> None:
    """Every ``group=option`` override names an option of its group (one line with the closest ones)."""
    loader = hydra.config_loader
    groups = [g for g in loader.list_groups("") if g != "hydra"]
    try:
        check_group_overrides(overrides, groups, loader.get_group_options)
    except UnknownComponentError as error:
        failed = [message.split(" failed to load")[0] for message in getattr(_stored[-1] if _stored else None, "failures", [])]
        # a component no close option explains may be a skipped plugin's: say so, or the user hunts a typo that is not there
        if failed and error.kind in GROUPS and not error.close:
            raise CnnbenchError(f"{error} (not loaded, see the warnings above: {', '.join(failed)})") from None
        raise


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


_MISSING = object()


def _lookup(node: Any, key: str) -> Any:
    """The value at dotted ``key`` of plain containers, or a sentinel where there is none."""
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _closed_mapping(key: str, found: Mapping[str, Any], missing: str) -> CnnbenchError:
    """``key={new: 1}`` over a mapping without ``new``: Hydra merges into it, and the schema takes no new key
    (``+key.new=1`` neither), so the line names the keys it has."""
    from cnnbench.config_schema import closest

    sub = missing[len(key) + 1 :] if missing.startswith(f"{key}.") else "?"
    keys = [str(k) for k in found]
    return CnnbenchError(f"{key} has no key {sub} to merge a value into; {closest(sub, keys)}its keys: {', '.join(keys) or 'none'}")


def _no_hyperparameter(slot: str, name: Any, key: str) -> CnnbenchError:
    from cnnbench.config_schema import closest

    registry = _stored[-1]
    has = [c.name for c in registry.components(slot) if key in c.defaults]
    own = dict(registry.get(slot, str(name)).defaults) if name in registry.names(slot) else {}
    others = f"; {slot}s with {key}: {', '.join(has)}" if has else ""
    return CnnbenchError(f"{slot} {name!r} has no hyperparameter {key}: {closest(key, own)}it has: {', '.join(own) or 'none'}{others}")
