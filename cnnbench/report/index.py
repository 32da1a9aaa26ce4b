"""A columnar cache of the parsed records of one results folder, so that a report parses only what changed.

The JSON files stay the source of truth. The index, ``<folder>/.cnnbench-index.parquet``, holds for each
record file read before its flat row (what :func:`cnnbench.report.loader.flatten_record` made of it) and
the file's size, modification time, change time (nanoseconds) and inode. A file whose four values are
unchanged is taken from the index; a new, changed or replaced one (records are written by rename, so a
rewrite is a new inode) is parsed again; a file that is gone drops out. Only files that are exactly one
record are cached: a file that is not valid JSON or not a record is parsed, and reported, every time,
as it would be without the index. A file modified less than :data:`RACY_NS` before it was looked at is
not cached either, since a second write within the file system's timestamp granularity could leave all
four values as they were (git's "racily clean" entries).

The index is written only after a report succeeded (never by a refused one), atomically, and only when
it changed; a folder that cannot be written is reported without one. A few rows added go to a second,
small file, the delta (``<folder>/.cnnbench-index-delta.parquet``, which names the index it was written
for), until the delta and the index's stale rows pass a tenth of the rows and the index is written whole
again. An index or delta written by another version of the parser, or one that does not read back whole
(Parquet page checksums are checked), is ignored and rebuilt; so is a delta beside an index it was not
written for (left by a report that lost a race). Deleting them changes nothing but time;
``cnnbench report --no-index`` neither reads nor writes them.

Cells pandas cannot store in a typed Parquet column (lists, dicts, a field that is a number in one record
and a word in another) are stored as JSON text. A column of lists and dicts (the whole fields ``config``,
``curve``, ``identity``, per-class accuracies) stays text (:class:`JSONText`) in the frame of a report until
a table needs it (:func:`whole`): most runs' curves and configs are never looked at, and decoding them
would cost as much as parsing the files. :func:`cnnbench.report.loader.load` decodes them all (their
keys come back sorted).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cnnbench.atomic import writing

INDEX_NAME = ".cnnbench-index.parquet"
#: the rows cached since the index was last written whole; read only beside the index it was written for
DELTA_NAME = ".cnnbench-index-delta.parquet"
#: the index is written whole again once its stale rows and the delta's rows pass this share of the rows
COMPACT_SHARE = 0.1
#: a file modified this recently is parsed but not cached (timestamps are coarser than a write)
RACY_NS = 2_000_000_000
#: fields kept whole per row (a dict or list), always stored as JSON text
WHOLE_FIELDS = ("config", "curve", "identity")
#: the index's own columns: the file's path inside the folder and what says it has not changed
PATH, STATE = "__index_path__", ("__index_size__", "__index_mtime_ns__", "__index_ctime_ns__", "__index_ino__")
_META_KEY = b"cnnbench.index"
_FORMAT = 1


@functools.cache
def _parser_version() -> str:
    """What the cached rows depend on: the code that parses and flattens records, and the libraries that store them."""
    from cnnbench import records
    from cnnbench.report import loader

    digest = hashlib.sha256(f"{_FORMAT} {pd.__version__} {pa.__version__}".encode())
    for module in (records, loader):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def json_text(value: Any) -> str:
    """A cell as canonical JSON text (keys sorted), the text the report's Parquet tables hold for a list or dict."""
    return json.dumps(value, sort_keys=True, default=str)


class JSONText(str):
    """A whole field's cell taken from an index: its canonical JSON text, decoded by :func:`whole` when needed."""


def whole(value: Any) -> Any:
    """A whole field's cell as its object: JSON text from an index decoded, anything else (parsed now) as it is."""
    return json.loads(value) if isinstance(value, JSONText) else value


def decode_whole(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every :class:`JSONText` cell decoded (what :func:`cnnbench.report.loader.load` returns)."""
    lazy = [c for c in frame.columns if frame[c].dtype == object and frame[c].map(lambda v: isinstance(v, JSONText)).any()]
    return frame.assign(**{c: _decode(frame[c], JSONText) for c in lazy})


def _decode(column: pd.Series, kind: type = str) -> pd.Series:
    """Each JSON text (of ``kind``) of ``column`` decoded once per distinct text (identities repeat across seeds)."""
    is_text = column.map(lambda value: isinstance(value, kind))
    if not is_text.any():
        return column
    codes, uniques = pd.factorize(column[is_text])
    decoded = [json.loads(text) for text in uniques]
    out = column.astype(object).copy()
    out[is_text] = [decoded[code] for code in codes]
    return out


def file_state(path: str) -> tuple[int, int, int, int] | None:
    """(size, mtime_ns, ctime_ns, inode) of ``path``, or None when it cannot be looked at."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino & 0x7FFF_FFFF_FFFF_FFFF  # an int64 column


class FolderIndex:
    """The index of one results folder: the rows it holds (the index's, then its delta's), those of them
    still valid, and the rows to add."""

    def __init__(
        self,
        folder: Path,
        table: pa.Table | None,
        json_columns: Sequence[str] = (),
        lazy_columns: Sequence[str] = (),
        *,
        base_rows: int = 0,
        token: str | None = None,
    ) -> None:
        self.folder, self.path = folder, folder / INDEX_NAME
        self._table, self._json, self._lazy = table, set(json_columns), set(lazy_columns)
        self._base_rows, self._token = base_rows, token  # the rows of the index file, the rest the delta's
        self._kept: np.ndarray | None = None  # the rows of the table still valid, in its order
        self._added: list[tuple[str, tuple[int, int, int, int], dict[str, Any]]] = []
        self._now = time.time_ns()

    @classmethod
    def open(cls, folder: Path) -> FolderIndex:
        """The index of ``folder`` as found there, with its delta when that was written for it; an empty
        one when the index is missing, unreadable or stale."""
        base = _read(folder / INDEX_NAME)
        if base is None or "token" not in base[1]:
            return cls(folder, None)
        parts = [base]
        delta = _read(folder / DELTA_NAME)
        if delta is not None and delta[1].get("base") == base[1]["token"]:
            parts.append(delta)
        table, json_columns, lazy_columns = _combine([(table, set(meta["json_columns"]), set(meta["lazy_columns"])) for table, meta in parts])
        return cls(folder, table, sorted(json_columns), sorted(lazy_columns), base_rows=base[0].num_rows, token=base[1]["token"])

    def lookup(self, paths: Sequence[str], states: Sequence[tuple[int, int, int, int] | None]) -> pd.DataFrame:
        """The cached rows of the files at ``paths`` (inside the folder) whose state is unchanged, with
        their path in the ``PATH`` column; cells stored as JSON decoded, but columns of lists and dicts,
        which stay :class:`JSONText`."""
        if self._table is None or not paths:
            return pd.DataFrame(columns=[PATH])
        current = pa.table({PATH: list(paths), **{name: [s[i] if s else -1 for s in states] for i, name in enumerate(STATE)}})
        keys = self._table.select([PATH, *STATE]).append_column("__row__", pa.array(range(self._table.num_rows), pa.int64()))
        joined = keys.join(current, keys=[PATH, *STATE], join_type="inner")["__row__"]
        self._kept = np.sort(joined.to_numpy())  # the index's order, which is the frame's
        if not len(self._kept):
            return pd.DataFrame(columns=[PATH])
        # the rows still valid are picked from the converted columns (pointers), not from Arrow's buffers:
        # a take of the texts copied 250 MB at 100,000 records and cost a changed report ~0.5 s of page faults
        some = None if len(self._kept) == self._table.num_rows else self._kept
        lazy = [c for c in self._lazy if c in self._table.column_names]
        frame = self._table.drop_columns([*STATE, *lazy]).to_pandas()
        if some is not None:
            frame = frame.take(some).reset_index(drop=True)
        for column in [f.name for f in self._table.schema if pa.types.is_null(f.type) and f.name in frame]:
            frame[column] = float("nan")  # what pandas makes of a field every record leaves empty
        for column in (self._json - set(lazy)) & set(frame.columns):
            frame[column] = _decode(frame[column].astype(object))
        for column in lazy:  # an object column of JSONText (pandas would turn mapped strings into a str column)
            texts = self._table[column]
            cells = texts.to_numpy(zero_copy_only=False)  # str or None
            valid = texts.is_valid().to_numpy(zero_copy_only=False)
            if some is not None:
                cells, valid = cells[some], valid[some]
            present = np.flatnonzero(valid)
            cells[present] = list(map(JSONText, cells[present]))
            frame[column] = pd.Series(cells, dtype=object)
        return frame

    def add(self, path: str, state: tuple[int, int, int, int] | None, row: dict[str, Any]) -> None:
        """Cache the row just parsed from ``path`` (inside the folder), unless its file may still change unseen."""
        if state is not None and state[1] < self._now - RACY_NS and PATH not in row and not set(STATE) & row.keys():
            self._added.append((path, state, row))

    @property
    def changed(self) -> bool:
        """Whether the index on disk differs from what was just read: rows to add, or rows gone."""
        held = self._table.num_rows if self._table is not None else 0
        kept = len(self._kept) if self._kept is not None else 0
        return bool(self._added) or kept != held

    def save(self) -> bool:
        """Bring the files up to date if the index changed; False when the folder cannot take them
        (read-only, full): the report does not depend on them.

        A few rows added or gone are written as the delta (the rows cached since the index was written
        whole, with the new ones): at 100,000 records, writing the index whole again when 1% had changed
        cost 0.75 s. Once the delta and the index's stale rows pass :data:`COMPACT_SHARE` of the rows, the
        index is written whole and the delta removed (one left behind names an index that is gone)."""
        if not self.changed:
            return True
        kept = self._kept if self._kept is not None else np.empty(0, np.int64)
        in_delta = kept[kept >= self._base_rows]
        stale = self._base_rows - (len(kept) - len(in_delta))
        if self._token is not None and stale + len(in_delta) + len(self._added) <= COMPACT_SHARE * (len(kept) + len(self._added)):
            if not self._added and len(in_delta) == self._table.num_rows - self._base_rows:
                return True  # only rows of the index gone: they match no file, and wait for the next rewrite
            return self._write(self.folder / DELTA_NAME, in_delta, {"base": self._token})
        written = self._write(self.path, kept, {"token": os.urandom(8).hex()})
        _removed(self.folder / DELTA_NAME)  # left behind, it would name an index that is gone
        return written

    def _write(self, path: Path, rows: np.ndarray, meta: dict[str, str]) -> bool:
        """Write ``rows`` of the table and the rows added, sorted as the frame is, to ``path`` in one step."""
        parts, picks = [], []
        if len(rows):
            names = set(self._table.column_names)
            parts.append((self._table, self._json & names, self._lazy & names))
            picks.append(rows)
        if self._added:
            parts.append(_encode(self._added))
            picks.append(np.arange(len(self._added)))
        if not parts:  # every record file of the folder is gone
            return _removed(path)
        table, json_columns, lazy_columns = _combine(parts)  # the parts side by side, not copied
        starts = np.cumsum([0] + [part.num_rows for part, _, _ in parts[:-1]])
        chosen = pa.array(np.concatenate([picked + start for picked, start in zip(picks, starts)]))
        if "run_id" in table.column_names:  # the frame's order
            chosen = chosen.take(pc.sort_indices(table.select(["run_id", PATH]).take(chosen), sort_keys=[("run_id", "ascending"), (PATH, "ascending")]))
        table = table.take(chosen)
        meta = {"parser": _parser_version(), "json_columns": sorted(json_columns), "lazy_columns": sorted(lazy_columns), **meta}
        table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        try:
            with writing(path) as handle:
                pq.write_table(table, handle, write_page_checksum=True, compression="zstd")
        except OSError:
            return False
        return True


def _read(path: Path) -> tuple[pa.Table, dict[str, Any]] | None:
    """The table and metadata of an index file, or None when it is missing, unreadable or of another parser."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        meta = json.loads(table.schema.metadata[_META_KEY])
        if meta["parser"] != _parser_version() or not {PATH, *STATE} <= set(table.column_names):
            return None
        return table, meta
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
        return None


def _removed(path: Path) -> bool:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def _encode(added: Iterable[tuple[str, tuple[int, int, int, int], dict[str, Any]]]) -> tuple[pa.Table, set[str], set[str]]:
    """The rows to add as an Arrow table, the columns whose cells are stored as JSON text, and those of
    them that hold only lists and dicts (left undecoded until needed)."""
    paths, states, rows = zip(*added)
    frame = pd.DataFrame.from_records([{k: v for k, v in row.items() if k != "source"} for row in rows])
    columns, encoded, lazy = {PATH: pa.array(paths, pa.string())}, set(), set()
    for i, name in enumerate(STATE):
        columns[name] = pa.array([state[i] for state in states], pa.int64())
    for column in frame.columns:
        values = frame[column]
        nested = values.map(lambda v: isinstance(v, (list, dict))) if values.dtype == object else pd.Series(False, index=values.index)
        stored = None if column in WHOLE_FIELDS or nested.any() else _typed(values)
        if stored is None:
            stored = pa.array([None if _missing(v) else json_text(v) for v in values], pa.string())
            encoded.add(column)
            if column in WHOLE_FIELDS or bool((nested | values.map(_missing)).all()):
                lazy.add(column)
        columns[column] = stored
    return pa.table(columns), encoded, lazy


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _typed(values: pd.Series) -> pa.Array | None:
    """``values`` as one typed Arrow column, or None when they mix types (then they are stored as JSON)."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    return None if pa.types.is_nested(array.type) else array


def _combine(parts: Sequence[tuple[pa.Table, set[str], set[str]]]) -> tuple[pa.Table, set[str], set[str]]:
    """One table of the ``(table, its JSON columns, its lazy ones)`` parts: a column stored as JSON in one
    part, or typed differently in two (a number here, a word there), becomes JSON text in every part, and
    stays lazy only where every part holding it has it lazy."""
    wanted = set().union(*(encoded for _, encoded, _ in parts))
    schemas = [table.schema for table, _, _ in parts]
    for name in set.intersection(*(set(schema.names) for schema in schemas)) - wanted if len(parts) > 1 else ():
        try:
            pa.unify_schemas([pa.schema([schema.field(name)]) for schema in schemas], promote_options="permissive")
        except pa.ArrowException:
            wanted.add(name)
    lazy = {c for c in wanted if all(c in part_lazy for table, _, part_lazy in parts if c in table.column_names)}
    tables = [_as_json(table, wanted - encoded) for table, encoded, _ in parts]
    return (pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]), wanted, lazy


def _as_json(table: pa.Table, columns: set[str]) -> pa.Table:
    """``table`` with its typed ``columns`` converted to JSON text."""
    for column in columns & set(table.column_names):
        values = table[column].to_pylist()
        table = table.set_column(table.column_names.index(column), column, pa.array([None if v is None else json_text(v) for v in values], pa.string()))
    return table
