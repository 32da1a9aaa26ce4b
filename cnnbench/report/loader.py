"""Load run records, sweep trials, component timings and pytest-benchmark files into one DataFrame.

Every file is read as JSON data (never unpickled) and recognised by its content, so records copied in
from other machines can sit anywhere under a results folder. A file that is not valid JSON, or not a
record, is skipped with a :class:`SkippedRecordWarning` naming it; the rest still loads. The frame's
columns are documented in ``docs/report.md``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnbench.errors import CnnbenchError
from cnnbench.records import flatten_components, upgrade
from cnnbench.report.index import (
    PATH,
    WHOLE_FIELDS,
    FolderIndex,
    decode_whole,
    file_state,
    whole,
)

#: ``metrics.<split>`` of a schema-2 record -> the column prefix: the tables report test, the leaderboard ranks by validation
SPLIT_PREFIXES = {"test": "metric.", "validation": "validation.", "train": "train."}
#: Columns every frame has, with the value a record that lacks them (an older schema) gets.
DEFAULTS: dict[str, Any] = {
    "schema": 0,
    "record_type": "run",
    "status": "completed",
    "run_id": None,
    "task": None,
    "dataset": None,
    "model": None,
    "device": "unknown",
    "seed": None,
    "started_at": None,
    "finished_at": None,
    "study.name": None,
    "study.trial": None,
    "config_id": None,
    "data.fingerprint": None,
    "selection.split": None,
    "source": None,
}
PYTEST_BENCHMARK = "pytest_benchmark"


class NoRecordsError(CnnbenchError):
    """A results folder is missing, or holds no record."""


class NotARecord(ValueError):
    """A file that parsed as JSON but is not a record; the message says why."""


class SkippedRecordWarning(UserWarning):
    """A file under a results folder could not be read as a record; it was left out."""


@dataclass
class Loaded:
    """The records read from the results folders: the flat rows parsed now, the rows taken from the
    folders' indexes (:mod:`cnnbench.report.index`, one frame per folder), and the files left out (with the reason)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cached: list[pd.DataFrame] = field(default_factory=list)
    indexes: list[FolderIndex] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Every row as one frame (:func:`to_frame`); whole fields from an index are still JSON text."""
        return to_frame(self.rows, self.cached)

    def save_indexes(self) -> None:
        """Bring each folder's index up to date with what was read (call it once the report succeeded)."""
        for index in self.indexes:
            index.save()


def _flatten(prefix: str, node: dict[str, Any], into: dict[str, Any]) -> None:
    for key, value in node.items():
        if type(value) is dict:
            _flatten(f"{prefix}.{key}", value, into)
        else:
            into[f"{prefix}.{key}"] = value


def flatten_record(record: dict[str, Any], source: str) -> dict[str, Any]:
    """One record -> one flat row: ``components`` unprefixed, the test metrics as ``metric.<name>``,
    validation and train metrics as ``validation.<name>`` and ``train.<name>``, other dicts dotted.

    A run record of any schema is first upgraded to schema 2's shape (``cnnbench.records.upgrade``, which
    also derives the configuration of a record from before schema 2). Lists (a
    curve, per-class accuracy), the ``config`` and the ``identity`` stay whole, one Python object per cell.
    """
    record = upgrade(record)
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key == "components":
            nested = {slot: node for slot, node in value.items() if type(node) is dict}
            row.update(flatten_components(nested))  # older records: {"name": ..., **hp} per slot
            row.update({slot: choice for slot, choice in value.items() if slot not in nested})
        elif key == "metrics" and record.get("record_type", "run") == "run":
            for split, prefix in SPLIT_PREFIXES.items():
                row.update({prefix + name: metric for name, metric in (value.get(split) or {}).items()})
        elif key == "metrics":
            row.update({f"metric.{name}": metric for name, metric in value.items()})
        elif type(value) is dict and key not in WHOLE_FIELDS:
            _flatten(key, value, row)
        else:
            row[key] = value
    row["source"] = source
    return row


def pytest_benchmark_rows(document: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """One row per benchmark of a ``pytest --benchmark-json`` file; ``extra_info`` keys become columns."""
    machine, commit = document.get("machine_info") or {}, document.get("commit_info") or {}
    common = {
        "record_type": PYTEST_BENCHMARK,
        "started_at": document.get("datetime"),
        "git_commit": commit.get("id"),
        "host": machine.get("node"),
        "device_name": (machine.get("cpu") or {}).get("brand_raw"),
        "versions.python": machine.get("python_version"),
        "versions.pytest_benchmark": document.get("version"),
    }
    rows = []
    for bench in document["benchmarks"]:
        row = {**common, "name": bench.get("name"), "group": bench.get("group"), "fullname": bench.get("fullname")}
        _flatten("param", bench.get("params") or {}, row)
        _flatten("stats", {k: v for k, v in (bench.get("stats") or {}).items() if k != "data"}, row)
        row.update(bench.get("extra_info") or {})
        row["run_id"] = f"{Path(source).stem}:{bench.get('fullname') or bench.get('name')}"
        row["source"] = source
        rows.append(row)
    return rows


def _is_pytest_benchmark(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("benchmarks"), list) and "machine_info" in document


def _is_sweep_summary(document: Any) -> bool:
    """``<results>/sweeps/<study>/summary.json``, the sweep's own digest of trials whose records are read anyway."""
    return isinstance(document, dict) and {"study", "objectives", "trials", "best"} <= document.keys() and "run_id" not in document


def _is_record(document: Any) -> bool:
    return isinstance(document, dict) and ("run_id" in document or "record_type" in document) and "benchmarks" not in document


def _rows(document: Any, source: str) -> list[dict[str, Any]]:
    """The rows of one parsed file; none for a file the report knows to pass over, else at least one
    (:class:`NotARecord` says why there are none)."""
    if _is_sweep_summary(document):
        return []
    try:
        if _is_record(document):
            return [flatten_record(document, source)]
        if _is_pytest_benchmark(document) and document["benchmarks"]:
            return pytest_benchmark_rows(document, source)
    except (AttributeError, TypeError, ValueError) as error:  # e.g. "metrics" that is not an object
        raise NotARecord(f"malformed record ({type(error).__name__}: {error})") from None
    raise NotARecord("neither a cnnbench record (no run_id/record_type) nor a pytest-benchmark file with benchmarks")


def _folder_files(folder: Path) -> list[tuple[str, str]]:
    """Each ``*.json`` under ``folder`` (hidden files aside), sorted: its path as a source, and its path inside the folder."""
    prefix = os.path.join(os.fspath(folder), "")  # os.walk joins onto the folder as given: sources stay as before
    found = sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names if name.endswith(".json") and not name.startswith("."))
    return [(f, f[len(prefix) :]) for f in found]  # no stat per file


def parse_file(source: str) -> list[dict[str, Any]]:
    """The rows of one file, read as JSON data (never unpickled); raises ``OSError``, ``ValueError``
    (not UTF-8, not JSON) or :class:`NotARecord`."""
    return _rows(json.loads(Path(source).read_bytes()), source)


def _parsed(source: str, skipped: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    """The rows of ``source``, or None with the reason in ``skipped``."""
    try:
        return parse_file(source)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        skipped.append((source, f"not valid JSON ({type(error).__name__}: {error})".replace("\n", " ")))
    except NotARecord as error:
        skipped.append((source, str(error)))
    return None


def _is_duplicate(run_id: Any, source: str, seen: dict[Any, str], skipped: list[tuple[str, str]]) -> bool:
    """A run already read from another file (the same run copied into two folders) counts once; a copy
    that says something else (an edited metric) is named as a conflict, since only one of them is true."""
    if run_id is not None and run_id in seen:
        conflict = ", with different contents (one of the two was changed: check which is the run's true record)"
        skipped.append((source, f"duplicate of run {run_id} already read from {seen[run_id]}{conflict if _differ(source, seen[run_id]) else ''}"))
        return True
    seen[run_id] = source
    return False


def _differ(one: str, other: str) -> bool:
    """Whether two record files hold different records (parsed again: duplicates are rare)."""
    try:
        return json.loads(Path(one).read_bytes()) != json.loads(Path(other).read_bytes())
    except (OSError, ValueError):
        return True


def _read_folder(folder: Path, loaded: Loaded, seen: dict[Any, str], use_index: bool) -> int:
    """Read ``folder`` into ``loaded``, unchanged records from its index when ``use_index``; the number of files."""
    with ThreadPoolExecutor(1) as pool:  # Arrow reads the index without the GIL while this thread walks and stats the files
        opening = pool.submit(FolderIndex.open, folder) if use_index else None
        files = _folder_files(folder)
        states = [file_state(source) for source, _ in files] if use_index else []
        index = opening.result() if opening else None
    cached = index.lookup([inside for _, inside in files], states) if index else pd.DataFrame(columns=[PATH])
    found = cached["run_id"].tolist() if "run_id" in cached else [None] * len(cached)
    run_ids = dict(zip(cached[PATH].tolist(), (None if run_id != run_id else run_id for run_id in found)))  # NaN: no run id
    kept: dict[str, str] = {}
    for number, (source, inside) in enumerate(files):
        if inside in run_ids:
            if not _is_duplicate(run_ids[inside], source, seen, loaded.skipped):
                kept[inside] = source
            continue
        rows = _parsed(source, loaded.skipped)
        if not rows:
            continue
        if index and len(rows) == 1 and rows[0].get("record_type") != PYTEST_BENCHMARK:
            index.add(inside, states[number], rows[0])
        run_id = rows[0].get("run_id") if rows[0].get("record_type") != PYTEST_BENCHMARK else None
        if not _is_duplicate(run_id, source, seen, loaded.skipped):
            loaded.rows.extend(rows)
    if kept:
        taken = cached if len(kept) == len(cached) else cached[cached[PATH].isin(kept.keys())]
        loaded.cached.append(taken.assign(source=taken[PATH].map(kept)).drop(columns=PATH))
    if index:
        loaded.indexes.append(index)
    return len(files)


def read_records(paths: str | Path | Iterable[str | Path], *, index: bool = False) -> Loaded:
    """Read every ``*.json`` under ``paths`` (folders, searched recursively, or files) into flat rows.

    With ``index``, a folder's records that have not changed since its index (:mod:`cnnbench.report.index`)
    was written come from the index instead of being parsed again; :meth:`Loaded.save_indexes` updates it.
    A record whose ``run_id`` was already read (the same run copied into two folders) counts once.
    Raises :class:`NoRecordsError` when a path is missing or nothing under them is a record.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    loaded, seen, files = Loaded(), {}, 0
    for path in paths:
        if not path.exists():
            raise NoRecordsError(f"results folder {str(path)!r} does not exist; pass --results DIR with the folder runs were written to")
        if path.is_dir():
            files += _read_folder(path, loaded, seen, index)
            continue
        files += 1
        rows = _parsed(str(path), loaded.skipped)
        run_id = rows[0].get("run_id") if rows and rows[0].get("record_type") != PYTEST_BENCHMARK else None
        if rows and not _is_duplicate(run_id, str(path), seen, loaded.skipped):
            loaded.rows.extend(rows)
    if not loaded.rows and not loaded.cached:
        where = ", ".join(map(str, paths)) or "(no folder given)"
        found = "no *.json files"
        if files:
            example = " ({}: {})".format(*loaded.skipped[0]) if loaded.skipped else ""
            found = f"{files} JSON file{'s' * (files != 1)}, none of them a readable record{example}"
        raise NoRecordsError(f"no run records in {where}: {found}; write some with `cnnbench run` or `cnnbench bench`")
    return loaded


def to_frame(rows: list[dict[str, Any]], cached: Sequence[pd.DataFrame] = ()) -> pd.DataFrame:
    """The DataFrame of flat rows (and of rows taken from an index): the default columns first, then the
    rest sorted; rows sorted by run id, then source."""
    parts = [pd.DataFrame.from_records(rows)] if rows else []
    parts += [part for part in cached if not part.empty]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0] if parts else pd.DataFrame(columns=list(DEFAULTS))
    if not frame.empty:
        order = pd.DataFrame({column: _sort_text(frame, column) for column in ("run_id", "source")}).sort_values(["run_id", "source"], kind="stable").index
        if not (order == np.arange(len(frame))).all():  # an index holds its rows in this order already
            frame = frame.iloc[order].reset_index(drop=True)
    for column, default in DEFAULTS.items():
        if column not in frame:
            frame[column] = default
        elif default is not None:
            frame[column] = frame[column].where(frame[column].notna(), default)
    frame = frame[list(DEFAULTS) + sorted(set(frame.columns) - set(DEFAULTS))]
    for column in ("seed", "study.trial", "schema"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")
    frame["selected_on_test"] = frame["selection.split"] == "test"
    return frame.reset_index(drop=True)


def _sort_text(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as the text rows sort by: a missing value as ``"None"``, like a record without the field."""
    if column not in frame:
        return pd.Series("None", index=frame.index)
    if isinstance(frame[column].dtype, pd.StringDtype):
        return frame[column].fillna("None")
    values = frame[column].astype(object)
    return values.where(values.notna(), None).map(str)


def load(paths: str | Path | Iterable[str | Path] = "results", *, index: bool = False) -> pd.DataFrame:
    """Every record under ``paths`` as one DataFrame, one row per run, trial or timed component.

    Files that cannot be read are skipped with a :class:`SkippedRecordWarning`; the list is kept in
    ``frame.attrs["skipped"]`` as ``(path, reason)`` pairs. ``index``: take unchanged records from the
    folders' indexes (:mod:`cnnbench.report.index`, written by ``cnnbench report``) instead of parsing
    them; the frame is the same.

    >>> frame = load("results")                                      # doctest: +SKIP
    >>> frame.query("task == 'classification'").groupby("activation")["metric.accuracy"].mean()  # doctest: +SKIP
    """
    loaded = read_records(paths, index=index)
    for source, reason in loaded.skipped:
        warnings.warn(f"skipped {source}: {reason}", SkippedRecordWarning, stacklevel=2)
    frame = decode_whole(loaded.frame())
    frame.attrs["skipped"] = loaded.skipped
    return frame


def curves(frame: pd.DataFrame, keys: Collection[str] | None = None) -> pd.DataFrame:
    """The per-epoch curves of ``frame``'s runs in long form: ``run_id``, ``epoch``, ``key``, ``value``
    (nested per-epoch metrics dotted: ``validation.accuracy``); only ``keys`` when given."""
    rows = []
    if "curve" in frame:
        for run_id, curve in zip(frame["run_id"].tolist(), map(whole, frame["curve"].tolist())):
            for number, epoch in enumerate(curve if isinstance(curve, list) else [], start=1):
                flat: dict[str, Any] = {}
                _flatten("", epoch, flat)  # schema 2 nests the validation metrics: ".validation.accuracy"
                rows.extend(
                    (run_id, epoch.get("epoch", number), key[1:], float(value))
                    for key, value in flat.items()
                    if key != ".epoch" and type(value) in (int, float) and math.isfinite(value) and (keys is None or key[1:] in keys)
                )
    return pd.DataFrame(rows, columns=["run_id", "epoch", "key", "value"])
