"""The tables of a report: which metric, the leaderboard of configurations, the ablation, timings.

Configurations are compared within a *section* (task, dataset and the data's fingerprint, device,
metric) only: a CPU run and a GPU run, or two different folders of IDX files that are both "idx", are
never averaged together, unless the caller drops ``device`` from the keys, and then the leaderboard
names the devices it pooled. A configuration is a record's ``identity`` (``config_id``); a repeated
(configuration, seed) is one sample. The tests themselves live in :mod:`cnnbench.report.inference`.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cnnbench.errors import CnnbenchError
from cnnbench.kinds import COMPONENT_ROOTS, DEFAULT_BASELINE
from cnnbench.report.index import whole
from cnnbench.report.inference import Sample, adjust, compare_all, family_level, mean_intervals, seeds_to_decide, verdicts
from cnnbench.report.loader import PYTEST_BENCHMARK

SECTION_KEYS = ("task", "dataset", "data.fingerprint", "device")
#: identity keys a section already holds (under its own column names)
IDENTITY_IN_SECTION = frozenset({"task", "task.name", "dataset", "task.dataset", "data.fingerprint", "device"})
METRIC_PREFIX = "metric."
_MINIMIZED = re.compile(r"(loss|error|err$|_s$|seconds|time|latency|_ms$|memory|bytes|params)", re.IGNORECASE)


class ReportInputError(CnnbenchError):
    """A report option that does not fit the records (an unknown metric, column or baseline)."""


@dataclass(frozen=True)
class Objective:
    """The metric a section is ranked by, and whether higher is better."""

    metric: str
    maximize: bool


def text(value: Any) -> str:
    """A key value as stable text: missing -> "", 2.0 -> "2", 0.1 -> "0.1"."""
    value = whole(value)  # a list from an index is text until decoded
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def texts(values: pd.Series) -> pd.Series:
    """:func:`text` of each value, computed once per distinct value (a column of 10,000 runs has a few)."""
    if isinstance(values.dtype, pd.StringDtype):  # text already: factorized as it is stored, no Python string per row
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        labels = np.array([*uniques, ""], dtype=object)
        return pd.Series(labels[codes], index=values.index, dtype=object)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    labels = np.array([text(value) for value in uniques] + [""], dtype=object)  # code -1 (missing) -> ""
    return pd.Series(labels[codes], index=values.index, dtype=object)


def as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame[columns]`` as text, so configurations group and sort the same whatever the value types."""
    return pd.DataFrame({column: texts(frame[column]) for column in columns}, index=frame.index)


def component_columns(frame: pd.DataFrame) -> list[str]:
    """Columns holding component choices or hyperparameters, in registry kind order, then by name."""
    order = {root: i for i, root in enumerate(COMPONENT_ROOTS)}
    found = [c for c in frame.columns if c.split(".")[0] in order]
    return sorted(found, key=lambda c: (order[c.split(".")[0]], c != c.split(".")[0], c))


def _identity_cell(value: Any) -> Any:
    """An identity value as a frame cell: lists and dicts as canonical JSON text, so they group."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _identities(runs: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each run's configuration code and one row per configuration of its identity settings."""
    codes, _ = pd.factorize(runs["config_id"].astype(object), use_na_sentinel=True)
    positions = pd.Series(np.arange(len(runs))).groupby(codes).first()
    cells = runs["identity"].to_numpy()
    firsts = [whole(cells[at]) for code, at in positions.items() if code >= 0]  # JSON text when it came from an index
    table = pd.DataFrame.from_records(
        [{key: _identity_cell(value) for key, value in (cell if isinstance(cell, dict) else {}).items() if key not in IDENTITY_IN_SECTION} for cell in firsts]
    )
    return codes, table


def identity_keys(runs: pd.DataFrame) -> list[str]:
    """The settings of the runs' identities, components first (in registry kind order), then by name."""
    _, table = _identities(runs)
    found = [c for c in table.columns if table[c].notna().any() and not c.endswith("._partial_")]  # Hydra's, never a setting
    components = component_columns(pd.DataFrame(columns=found))
    return components + sorted(set(found) - set(components))


def with_identity(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with one column per identity setting (``optimizer.lr``, ``pooling.lam``, ...), taken
    from each record's ``identity``: the one place that says what makes a configuration."""
    if runs.empty:
        return runs
    codes, table = _identities(runs)
    expanded = pd.concat([table, pd.DataFrame(index=[len(table)], columns=table.columns)])  # code -1: no identity
    expanded = expanded.iloc[np.where(codes >= 0, codes, len(table))].set_axis(runs.index)
    return runs.assign(**{column: expanded[column] for column in table.columns})


def default_keys(runs: pd.DataFrame) -> list[str]:
    """The section (task, dataset, fingerprint, device) and every identity setting: runs that differ
    in any of these (15 epochs against 1, two learning rates, two folders of files) are different
    configurations, and the seed, threads or output folder make no difference."""
    return list(SECTION_KEYS) + (identity_keys(runs) if "identity" in runs and not runs.empty else [])


def metric_names(frame: pd.DataFrame) -> list[str]:
    """The numeric ``metric.*`` columns with at least one value, without the prefix, sorted."""
    return sorted(
        c[len(METRIC_PREFIX) :]
        for c in frame.columns
        if c.startswith(METRIC_PREFIX) and pd.api.types.is_numeric_dtype(frame[c]) and frame[c].notna().any()
    )


def minimized_by_name(metric: str) -> bool:
    """Losses, errors, times and sizes are better small; everything else (accuracy, mAP, IoU) large."""
    return bool(_MINIMIZED.search(metric))


def _recorded(runs: pd.DataFrame, column: str) -> Any:
    """The most common value of an optional record field, or None when no record has it."""
    if column not in runs or runs[column].isna().all():
        return None
    return runs[column].dropna().astype(str).value_counts().sort_index().idxmax()


def objectives(runs: pd.DataFrame, metric: str | None = None, maximize: bool | None = None) -> dict[str, Objective]:
    """The objective of each task: ``metric`` if given, else the records' ``objective.metric``, else
    ``accuracy`` when the task has it, else its first metric that is not a loss, time or size.
    """
    available = metric_names(runs)
    if metric is not None and metric not in available:
        raise ReportInputError(f"no metric {metric!r} in the run records; available: {', '.join(available) or '(none)'}")
    chosen = {}
    for task, group in runs.groupby(texts(runs["task"]), sort=True):
        names = metric_names(group)
        recorded = _recorded(group, "objective.metric")
        name = metric or (recorded if recorded in names else None)
        if name is None:
            preferred = [n for n in names if not minimized_by_name(n)]
            name = "accuracy" if "accuracy" in names else (preferred or names or [None])[0]
        if name is None:
            continue
        direction = maximize
        if direction is None:  # the recorded direction is the recorded metric's, not another's
            recorded_direction = _recorded(group, "objective.maximize") if name == recorded else None
            direction = recorded_direction == "True" if recorded_direction is not None else not minimized_by_name(name)
        chosen[task] = Objective(name, direction)
    return chosen


def _metric_values(frame: pd.DataFrame, metrics: pd.Series, prefix: str) -> pd.Series:
    """Each row's value of its own metric (``metrics``) under ``prefix`` (``metric.``, ``validation.``, ``train.``)."""
    value = pd.Series(np.nan, index=frame.index)
    for name in metrics.dropna().unique():
        rows = metrics == name
        if prefix + name in frame:
            value[rows] = pd.to_numeric(frame.loc[rows, prefix + name], errors="coerce")
    return value.astype(float)


def scored_runs(frame: pd.DataFrame, goals: Mapping[str, Objective], *, trials: bool = True) -> pd.DataFrame:
    """Completed runs with a finite test value of their task's metric: ``metric``, ``maximize``,
    ``value`` (test), ``validation_value``, ``gap`` (train - validation, the overfitting gap) and one
    column per identity setting; without the sweeps' trials unless ``trials``. Repeats are still in;
    :func:`deduplicate` takes them out.

    The new columns are computed over all of ``frame`` and its rows taken once: each take of a wide
    frame copies every column (0.1 s at 100,000 records)."""
    tasks = texts(frame["task"])
    metrics = tasks.map({task: goal.metric for task, goal in goals.items()})
    value = _metric_values(frame, metrics, METRIC_PREFIX)
    validation = _metric_values(frame, metrics, "validation.")
    keep = (frame["record_type"] == "run") & (frame["status"] == "completed") & np.isfinite(value)
    if not trials:
        keep &= frame["study.name"].isna()
    runs = frame if keep.all() else frame[keep]
    added = {
        "metric": metrics,
        "maximize": tasks.map({task: goal.maximize for task, goal in goals.items()}),
        "value": value,
        "validation_value": validation,
        "gap": _metric_values(frame, metrics, "train.") - validation,
    }
    return with_identity(runs.assign(**{name: column[keep] for name, column in added.items()}))


REPEAT_COLUMNS = ["task", "dataset", "device", "config_id", "seed", "runs", "kept", "left_out"]


def deduplicate(runs: pd.DataFrame, apart: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run per (configuration, seed), the latest finished (then the greatest run id), and the
    table of the repeats left out: a re-run of an identical seed is the same sample again, and counting
    it twice would shrink the intervals and could flip a verdict. Runs without a seed are all kept.

    ``apart`` names columns outside the identity that the report keeps apart (``--by versions.torch``):
    runs of a seed under two torch versions are then two samples, not a repeat."""
    same = ["config_id", "_seed", *(f"_apart{i}" for i in range(len(apart)))]
    ordered = runs.assign(_seed=texts(runs["seed"]), **{f"_apart{i}": texts(runs[c]) for i, c in enumerate(apart)})
    ordered = ordered.sort_values(["finished_at", "run_id"], na_position="first", kind="stable")
    seeded = ordered[ordered["_seed"] != ""]
    repeated = seeded[seeded.duplicated(same, keep=False)]
    rows = []
    for (config, seed, *_), group in repeated.groupby(same, sort=True):
        last = group.iloc[-1]
        rows.append([text(last["task"]), text(last["dataset"]), text(last["device"]), config, seed, len(group), last["run_id"], ", ".join(group["run_id"].iloc[:-1])])
    dropped = seeded.index[seeded.duplicated(same, keep="last")]
    return runs.drop(index=dropped), pd.DataFrame(rows, columns=REPEAT_COLUMNS)


def seed_ranges(seeds: Collection[str]) -> str:
    """``["0", "1", "2", "7"]`` -> ``"0-2,7"``: the distinct seeds, short enough for a table cell."""
    numbers = sorted({int(s) for s in seeds if s.lstrip("-").isdigit()})
    parts, start = [], None
    for i, number in enumerate(numbers):
        start = number if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != number + 1:
            parts.append(str(start) if start == number else f"{start}-{number}")
            start = None
    return ",".join(parts + sorted({s for s in seeds if not s.lstrip("-").isdigit() and s}))


def section_columns(keys: Collection[str]) -> list[str]:
    """The columns that make a section: those of task, dataset and device among ``keys``, and the metric."""
    return [k for k in SECTION_KEYS if k in keys] + ["metric"]


def sections(table: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """``("classification / digits / cpu: accuracy", rows)`` for each section of a leaderboard or ablation.

    A dataset whose name covers several sets of files (two folders of IDX files) is told apart by the
    first 8 characters of its fingerprint: ``idx (data 3f2a1b0c)``.
    """
    columns = section_columns(table.columns)
    ambiguous = set()
    if {"dataset", "data.fingerprint"} <= set(columns):
        prints = table.groupby("dataset")["data.fingerprint"].nunique()
        ambiguous = set(prints[prints > 1].index)
    for values, rows in table.groupby(columns, sort=True):
        where = dict(zip(columns, values))
        if where.get("dataset") in ambiguous and where.get("data.fingerprint"):
            digest = where["data.fingerprint"].rpartition(":")[2]  # "blake2b:3f2a..." -> "3f2a..."
            where["dataset"] = f"{where['dataset']} (data {digest[:8]})"
        where.pop("data.fingerprint", None)
        metric = where.pop("metric")
        yield f"{' / '.join(v for v in where.values() if v) or 'all'}: {metric}", rows


def _samples(table: pd.DataFrame, group_columns: list[str], rows: pd.DataFrame) -> list[Sample]:
    """The (seeds, values) of each row of ``rows``, a table grouped from ``table`` by ``group_columns``."""
    positions = table.groupby(group_columns, sort=False).indices
    seeds, values = table["seed"].to_numpy(), table["value"].to_numpy()
    found = []
    for key in rows[group_columns].itertuples(index=False, name=None):
        at = positions[key if len(key) > 1 else key[0]]
        found.append(Sample(tuple(seeds[at]), values[at]))
    return found


def _joined(values: pd.Series) -> str:
    return ",".join(sorted(set(map(text, values.unique()))))  # 1,250 seeds a configuration share one config_id


def leaderboard(runs: pd.DataFrame, keys: Sequence[str], confidence: float = 0.95, correction: str = "holm") -> pd.DataFrame:
    """One row per configuration of ``scored_runs``: n, seeds, test mean, std, bootstrap interval, the
    validation mean and overfitting gap beside it, rank, and how it stands against the section's leader.

    Ranks count within a section and follow the validation means (``ranked_by``; see :func:`_ranked_by`):
    the leader is selected on validation, and its test mean is reported once, beside the others'.
    ``versus_leader`` is decided by a test of the test values, not by overlapping intervals: each
    configuration against the leader (paired sign-flip test when the seeds match, else Welch),
    corrected for the section's comparisons (``correction``): ``tie`` when the corrected p-value is at
    least 1 - confidence, else ``behind`` or ``ahead`` (better on test than the configuration validation
    selected), ``too few seeds`` below 3 runs on either side.
    """
    keys = list(keys)
    group = keys + ["metric"]
    table = as_text(runs, group)
    table["maximize"] = runs["maximize"].astype(bool)
    table["value"] = runs["value"]
    table["seed"] = texts(runs["seed"])
    for column in ("validation_value", "gap", "config_id", "selected_on_test"):
        table[column] = runs[column] if column in runs else np.nan
    table["train_s"] = pd.to_numeric(runs["timing.train_s"], errors="coerce") if "timing.train_s" in runs else np.nan
    extra = {} if "device" in keys else {"devices": ("device", _joined)}
    if extra:
        table["device"] = runs["device"]
    board = (
        table.groupby(group, sort=True, dropna=False)
        .agg(
            maximize=("maximize", "first"),
            config_id=("config_id", _joined),
            n=("value", "size"),
            seeds=("seed", seed_ranges),
            mean=("value", "mean"),
            std=("value", "std"),
            validation=("validation_value", "mean"),
            gap=("gap", "mean"),
            selected_on_test=("selected_on_test", lambda on_test: bool(on_test.fillna(False).astype(bool).any())),
            train_s=("train_s", "mean"),
            **extra,
        )
        .reset_index()
    )
    samples = _samples(table, group, board)
    board["ci_low"], board["ci_high"] = mean_intervals([sample.values for sample in samples], confidence)
    section = section_columns(keys)
    board["ranked_by"] = _ranked_by(board, section)
    ranked = np.where(board["ranked_by"] == "validation", board["validation"], board["mean"])
    board["score"] = np.where(board["maximize"], ranked, -ranked)
    board = board.sort_values(section + ["score"] + keys, ascending=[True] * len(section) + [False] + [True] * len(keys), kind="stable")
    board["rank"] = board.groupby(section, sort=False)["score"].rank(method="min", ascending=False).astype(int)
    _versus_leader(board, [samples[i] for i in board.index], section, 1 - confidence, correction, confidence)
    columns = keys + list(extra) + ["config_id", "metric", "maximize", "n", "seeds", "mean", "std", "ci_low", "ci_high"]
    columns += ["validation", "gap", "ranked_by", "rank", "p_leader", "versus_leader", "selected_on_test", "train_s"]
    return board[columns].reset_index(drop=True)


def _ranked_by(board: pd.DataFrame, section: list[str]) -> np.ndarray:
    """``validation`` for each section whose every configuration has a validation mean, else ``test``.

    Selecting the leader on the test means would make the leader's test mean an optimistic estimate
    (the winner's curse) and the tests against it biased; only sections with records older than the
    validation split (schema 1, flagged ``selected_on_test``) fall back to the test means.
    """
    missing = board["validation"].isna().groupby([board[c] for c in section], sort=False, dropna=False).transform("any")
    return np.where(missing.to_numpy(), "test", "validation")


def _versus_leader(board: pd.DataFrame, samples: list[Sample], section: list[str], alpha: float, correction: str, confidence: float) -> None:
    """Add ``p_leader`` (corrected within the section) and ``versus_leader`` to a ranked ``board``."""
    leader_at = board.groupby(section, sort=False).cumcount().to_numpy() == 0
    leaders = np.maximum.accumulate(np.where(leader_at, np.arange(len(board)), 0))  # rows are in section order
    tested = compare_all(samples, [samples[i] for i in leaders], board["maximize"].tolist(), confidence, intervals=False)
    tested.loc[leader_at, ["test", "p_value"]] = ["leader", np.nan]
    adjusted = pd.Series(np.nan, index=board.index)
    for _, rows in tested.set_axis(board.index).groupby([board[c] for c in section], sort=False):
        adjusted[rows.index] = adjust(rows["p_value"].to_numpy(), correction)
    board["p_leader"] = adjusted
    significant = (adjusted < alpha).to_numpy()
    ahead = (tested["diff"].to_numpy() * np.where(board["maximize"], 1.0, -1.0)) > 0
    board["versus_leader"] = np.select(
        [leader_at, (tested["test"] == "none").to_numpy(), significant & ahead, significant],
        ["leader", "too few seeds", "ahead", "behind"],
        "tie",
    )


def parse_baseline(spec: str | None) -> dict[str, dict[str, str]]:
    """``"activation=elu,pooling=avg"`` over the defaults -> ``{slot: {column: value}}``.

    A key with a dot pins a hyperparameter too: ``activation=leaky_relu,activation.negative_slope=0.1``.
    """
    baseline = {slot: {slot: choice} for slot, choice in DEFAULT_BASELINE.items()}
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        column, sep, value = item.partition("=")
        slot = column.split(".")[0].strip()
        if not sep or slot not in DEFAULT_BASELINE:
            raise ReportInputError(
                f"bad --baseline item {item!r}: expected SLOT=CHOICE or SLOT.HYPERPARAMETER=VALUE with SLOT one of {', '.join(DEFAULT_BASELINE)}"
            )
        if column.strip() == slot:
            baseline[slot] = {}
        baseline[slot][column.strip()] = value.strip()
    return baseline


def check_baseline(baseline: Mapping[str, Mapping[str, str]], keys: Sequence[str], spec: str | None = None, runs: pd.DataFrame | None = None) -> None:
    """Refuse a baseline that pins a column the keys do not hold, or (for the slots ``spec`` names) a
    value no run of ``runs`` has (a misspelt choice would silently give an empty ablation), before any
    table is computed."""
    given = {item.partition("=")[0].strip().split(".")[0] for item in (spec or "").split(",") if item.strip()}
    for slot, pins in baseline.items():
        unknown = [column for column in pins if column not in keys] if slot in keys or slot in given else []
        if unknown:
            raise ReportInputError(f"--baseline pins {', '.join(unknown)}, which is not among the keys; keys: {', '.join(keys)}")
        if not (slot in given and slot in keys and runs is not None and not runs.empty):
            continue
        for column, value in pins.items():
            found = set(texts(runs[column])) - {""} if column in runs else set()
            if value not in found:
                raise ReportInputError(f"--baseline {column}={value} matches no run; {column} in these runs: {', '.join(sorted(found)) or 'none'}")
        if len(pins) > 1 and not np.logical_and.reduce([texts(runs[column]) == value for column, value in pins.items()]).any():
            hyper = [c for c in keys if c.startswith(slot + ".")]
            settings = sorted(set(fold(as_text(runs, [slot, *hyper]).drop_duplicates(), [slot, *hyper])[slot]))
            pinned = ", ".join(f"{c}={v}" for c, v in pins.items())
            raise ReportInputError(f"--baseline {pinned} matches no run: each value is found, never together; {slot} in these runs: {', '.join(settings)}")


def choice_label(slot: str, choice: str, settings: Mapping[str, str]) -> str:
    """``mixed(lam=0.3)``: the slot's choice with the hyperparameters it was run with."""
    shown = ", ".join(f"{column[len(slot) + 1 :]}={v}" for column, v in settings.items() if v != "")
    return f"{choice}({shown})" if shown else choice


def fold_keys(keys: Sequence[str]) -> dict[str, list[str]]:
    """Each key that is not a hyperparameter of another key, with its hyperparameter keys."""
    return {k: [h for h in keys if h.startswith(k + ".")] for k in keys if k.split(".")[0] == k or k.split(".")[0] not in keys}


def fold(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Text key columns with hyperparameters folded into their choice: ``pooling`` = ``mixed(lam=0.5)``."""
    folded = {
        key: [choice_label(key, row[0], dict(zip(hyper, row[1:]))) for row in table[[key, *hyper]].itertuples(index=False)]
        for key, hyper in fold_keys(keys).items()
    }
    return pd.DataFrame(folded, index=table.index, dtype=object)


def describe(settings: Mapping[str, str], shown: Collection[str] | None = None) -> str:
    """``pooling=mixed(lam=0.5), activation=relu``: the settings (those in ``shown``, if given), folded."""
    return ", ".join(
        f"{key}={choice_label(key, settings[key], {h: settings[h] for h in hyper})}"
        for key, hyper in fold_keys(list(settings)).items()
        if (shown is None or key in shown) and settings[key] != ""
    )


def agree(choice: Sequence[str], baseline: Sequence[str]) -> bool:
    """Whether two arms' hyperparameter values (as text, "" where an arm has none) agree wherever both
    were run with one: mixed pooling with kernel 2 is compared with max pooling with kernel 2, never
    with kernel 3, which would confound the choice with the kernel."""
    return all(a == b or "" in (a, b) for a, b in zip(choice, baseline))


def numeric_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]`` as numbers, NaN where a row has none (or the column is missing)."""
    return pd.to_numeric(frame[name], errors="coerce") if name in frame else pd.Series(np.nan, index=frame.index)


def varying_keys(table: pd.DataFrame, keys: Sequence[str], section: Sequence[str]) -> set[str]:
    """The folded keys whose value (choice or hyperparameter) differs between rows of one section."""
    varies = {c for c in keys if c not in section and table.groupby(list(section))[c].nunique().max() > 1}
    return {key for key, hyper in fold_keys(keys).items() if varies & {key, *hyper}}


ABLATION_COLUMNS = [
    "slot", "choice", "baseline", "context", "n_choice", "n_baseline", "test", "diff", "ci_low", "ci_high",
    "p_better", "p_value", "p_adjusted", "verdict", "seeds_to_decide",
]


def ablation(
    runs: pd.DataFrame,
    keys: Sequence[str],
    baseline: Mapping[str, Mapping[str, str]] | None = None,
    confidence: float = 0.95,
    correction: str = "holm",
    power: float = 0.8,
) -> pd.DataFrame:
    """Each choice of each slot against the slot's baseline, with every other key held fixed, and the
    slot's hyperparameters too wherever both were run with one (:func:`agree`).

    A comparison happens only within a *context* (one value of every other key) that has runs of
    both; ``context`` names the keys that vary within the section, so each row says what was fixed.
    The p-values of a section are corrected together (``correction``); ``verdict`` is read from the
    corrected p-value, and an inconclusive row says how many seeds a side would decide it at ``power``.
    """
    baseline = baseline if baseline is not None else parse_baseline(None)
    keys = list(keys)
    check_baseline(baseline, keys)
    section = section_columns(keys)
    table = as_text(runs, keys + ["metric"])
    varying = varying_keys(table, keys, section)
    # configuration -> its runs' positions, in run order: the slots below loop over configurations, not runs
    configs = {config if isinstance(config, tuple) else (config,): at for config, at in table.groupby(list(table.columns), sort=False).indices.items()}
    seeds, values = texts(runs["seed"]).to_numpy(), runs["value"].to_numpy(dtype=float)
    directions = {config: bool(runs["maximize"].iat[at[-1]]) for config, at in configs.items()}
    rows, choices, baselines = [], [], []
    for slot, pins in baseline.items():
        if slot not in keys:
            continue
        hyper = [c for c in keys if c.startswith(slot + ".")]
        fixed_keys = section + [c for c in keys if c != slot and c not in hyper and c not in section]
        # context (the other keys) -> (is a baseline, choice label) -> its configurations' run positions
        contexts: dict[tuple[str, ...], dict[tuple[bool, str], list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
        maximize: dict[tuple[str, ...], bool] = {}
        settings: dict[str, tuple[str, ...]] = {}  # choice label -> its hyperparameter values
        for config, at in configs.items():
            record = dict(zip(keys + ["metric"], config))
            fixed = tuple(record[c] for c in fixed_keys)
            is_base = all(record[c] == v for c, v in pins.items())
            label = choice_label(slot, record[slot], {c: record[c] for c in hyper})
            contexts[fixed][(is_base, label)].append(at)
            settings[label] = tuple(record[c] for c in hyper)
            maximize[fixed] = directions[config]
        pinned = ", ".join(f"{c}={v}" for c, v in pins.items())
        # the pins name the baseline when they match one setting throughout; else every row names its setting
        base_settings = {label for found in contexts.values() for is_base, label in found if is_base}
        for fixed in sorted(contexts):
            found = contexts[fixed]
            bases = sorted(label for is_base, label in found if is_base)
            described = describe(dict(zip(fixed_keys, fixed)), varying)
            # a baseline that leaves a hyperparameter open can match several settings: each is a baseline of
            # its own, since pooling them would count each seed once per setting as if independent
            for base in bases:
                head = dict(zip(section, fixed), slot=slot, baseline=pinned if len(base_settings) == 1 else f"{slot}={base}", context=described, maximize=maximize[fixed])
                for label in sorted(label for is_base, label in found if not is_base and agree(settings[label], settings[base])):
                    rows.append({**head, "choice": label})
                    choices.append(_sample(found[(False, label)], seeds, values))
                    baselines.append(_sample(found[(True, base)], seeds, values))
    frame = pd.DataFrame(rows, columns=section + ["slot", "choice", "baseline", "context", "maximize"])
    tested = compare_all(choices, baselines, frame["maximize"].tolist(), confidence)
    frame = pd.concat([frame, tested.drop(columns="spread")], axis=1)
    decide(frame, tested["spread"], section, 1 - confidence, correction, power)
    return frame[section + ABLATION_COLUMNS]


def decide(frame: pd.DataFrame, spread: pd.Series, family: Sequence[str], alpha: float, correction: str, power: float) -> None:
    """Add ``p_adjusted`` (corrected over each family of rows), ``verdict`` and ``seeds_to_decide``
    (for an inconclusive row: seeds a side at the level its family's first correction step needs)."""
    frame["p_adjusted"] = np.nan
    frame["seeds_to_decide"] = np.nan
    for _, rows in frame.groupby(list(family), sort=False) if len(frame) else []:
        p = rows["p_value"].to_numpy()
        frame.loc[rows.index, "p_adjusted"] = adjust(p, correction)
        level = family_level(alpha, int(np.isfinite(p).sum()), correction)
        for i in rows.index:
            if np.isfinite(frame.at[i, "p_value"]):
                frame.at[i, "seeds_to_decide"] = seeds_to_decide(frame.at[i, "diff"], spread[i], level, power, frame.at[i, "test"] == "sign-flip")
    frame["verdict"] = verdicts(frame, alpha, frame["maximize"].tolist())
    frame.loc[frame["verdict"] != "inconclusive", "seeds_to_decide"] = np.nan


def _sample(parts: Sequence[np.ndarray], seeds: np.ndarray, values: np.ndarray) -> Sample:
    """The (seeds, values) of the runs at ``parts`` (arrays of positions), in that order."""
    at = np.concatenate(parts)
    return Sample(tuple(seeds[at].tolist()), values[at])


def pareto_front(cost: np.ndarray, value: np.ndarray, maximize: bool = True) -> np.ndarray:
    """Mask of the points no other point beats on both cost (lower) and value (higher when ``maximize``)."""
    cost, value = np.asarray(cost, dtype=float), np.asarray(value, dtype=float)
    gain = value if maximize else -value
    order = np.lexsort((-gain, cost))
    best_before = np.concatenate(([-np.inf], np.maximum.accumulate(gain[order])[:-1]))
    mask = np.zeros(len(cost), dtype=bool)
    mask[order] = gain[order] > best_before
    return mask


BENCH_KEYS = ("kind", "name", "baseline", "target", "device", "dtype", "shape", "compile", "threads", "clock")
BENCH_VALUES = ("forward_ms", "forward_backward_ms", "baseline_forward_ms", "baseline_forward_backward_ms", "ratio_forward", "ratio_forward_backward")
PYTEST_KEYS = ("group", "name", "device")
#: what a component/baseline pair of ``benchmarks/test_components.py`` is keyed by (``extra_info``)
PYTEST_RATIO_KEYS = ("kind", "component", "baseline", "device", "dtype", "shape", "threads")
#: ``extra_info["role"]`` -> the timing column it fills
PYTEST_ROLES = {"component": "forward_backward_ms", "baseline": "baseline_forward_backward_ms"}


def _medians(rows: pd.DataFrame, keys: Sequence[str], values: Mapping[str, pd.Series]) -> pd.DataFrame:
    """``n`` and the median of each of ``values`` per distinct combination of the ``keys`` present."""
    keys = [k for k in keys if k in rows]
    table = as_text(rows, keys).assign(**{name: pd.to_numeric(series, errors="coerce") for name, series in values.items()})
    grouped = table.groupby(keys, sort=True, dropna=False)
    return grouped.agg(n=(next(iter(values)), "size"), **{name: (name, "median") for name in values}).reset_index()


def bench_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Component timings (``record_type == "bench"``): the median of each timing over repeated records."""
    rows = frame[frame["record_type"] == "bench"]
    if "status" in rows:
        rows = rows[rows["status"].fillna("completed") == "completed"]
    values = {name: rows[name] for name in BENCH_VALUES if name in rows}
    if rows.empty or not values:
        return rows.iloc[:0, :0]
    return _medians(rows, BENCH_KEYS, values)


def _pytest_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """Component/baseline rows of ``benchmarks/test_components.py``: the ratio of the two medians timed in the
    same file (one process, one machine state), then the median over files, per thread count."""
    keys = [k for k in PYTEST_RATIO_KEYS if k in rows]
    timed = as_text(rows, [*keys, "source"]).assign(
        role=rows["role"].map(PYTEST_ROLES).to_numpy(), median=pd.to_numeric(rows["stats.median"], errors="coerce").to_numpy() * 1e3
    )
    wide = timed.pivot_table(index=[*keys, "source"], columns="role", values="median", aggfunc="median").reset_index()
    wide = wide.reindex(columns=[*keys, "source", *PYTEST_ROLES.values()])
    wide["ratio_forward_backward"] = wide["forward_backward_ms"] / wide["baseline_forward_backward_ms"]
    values = {name: wide[name] for name in (*PYTEST_ROLES.values(), "ratio_forward_backward")}
    return _medians(wide, keys, values)


def pytest_benchmark_table(frame: pd.DataFrame) -> pd.DataFrame:
    """pytest-benchmark results in ms, the median over files: the component suite's component/baseline
    ratios keyed by threads, and any other benchmark's median and IQR."""
    rows = frame[frame["record_type"] == PYTEST_BENCHMARK]
    if rows.empty:
        return rows.iloc[:0, :0]
    paired = rows["role"].isin(list(PYTEST_ROLES)) if "role" in rows else pd.Series(False, index=rows.index)
    tables = [_pytest_ratios(rows[paired])] if paired.any() else []
    other = rows[~paired]
    if not other.empty:
        values = {name + "_ms": other[f"stats.{name}"] * 1e3 for name in ("median", "iqr") if f"stats.{name}" in other}
        tables.append(_medians(other, PYTEST_KEYS, values))
    return pd.concat(tables, ignore_index=True)
