"""The statistics of a report: which metric, the leaderboard across seeds, the ablation tests, timings.

Configurations are compared within a *section* (task, dataset, device, metric) only: a CPU run and a
GPU run are never averaged together unless the caller drops ``device`` from the keys, and then the
leaderboard names the devices it pooled.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from cnnbench.errors import CnnbenchError
from cnnbench.kinds import COMPONENT_ROOTS, DEFAULT_BASELINE
from cnnbench.report.loader import PYTEST_BENCHMARK

SECTION_KEYS = ("task", "dataset", "device")
#: training settings that change what a run measures (unlike ``trainer.seed``, ``threads`` or ``progress``)
TRAINER_KEYS = ("trainer.epochs", "trainer.batch_size", "trainer.precision", "trainer.channels_last", "trainer.compile")
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
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def texts(values: pd.Series) -> pd.Series:
    """:func:`text` of each value, computed once per distinct value (a column of 10,000 runs has a few)."""
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


def default_keys(runs: pd.DataFrame) -> list[str]:
    """Task, dataset, device, the components, the training settings that change results, and the sweep
    trial: runs that differ in any of these (15 epochs against 1, two trials with different learning
    rates) are different configurations. Columns no run has are left out."""
    candidates = component_columns(runs) + [c for c in (*TRAINER_KEYS, "study.name", "study.trial") if c in runs]
    return list(SECTION_KEYS) + [c for c in candidates if runs[c].notna().any()]


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
        if direction is None:
            recorded = _recorded(group, "objective.maximize")
            direction = recorded == "True" if recorded is not None else not minimized_by_name(name)
        chosen[task] = Objective(name, direction)
    return chosen


def scored_runs(frame: pd.DataFrame, goals: Mapping[str, Objective]) -> pd.DataFrame:
    """Completed runs with a finite value of their task's metric, with ``metric``, ``maximize`` and ``value``."""
    runs = frame[(frame["record_type"] == "run") & (frame["status"] == "completed")].copy()
    tasks = texts(runs["task"])
    runs["metric"] = tasks.map({task: goal.metric for task, goal in goals.items()})
    runs["maximize"] = tasks.map({task: goal.maximize for task, goal in goals.items()})
    value = pd.Series(np.nan, index=runs.index)
    for name in runs["metric"].dropna().unique():
        rows = runs["metric"] == name
        value[rows] = pd.to_numeric(runs.loc[rows, METRIC_PREFIX + name], errors="coerce")
    runs["value"] = value.astype(float)
    return runs[np.isfinite(runs["value"])]


def t_half_width(std: Any, n: Any, confidence: float) -> Any:
    """Half the width of the t-distribution confidence interval of a mean (NaN for n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(n >= 2, n - 1, np.nan)
        return special.stdtrit(df, (1 + confidence) / 2) * np.asarray(std, dtype=float) / np.sqrt(n)


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
    """``("classification / digits / cpu: accuracy", rows)`` for each section of a leaderboard or ablation."""
    for values, rows in table.groupby(section_columns(table.columns), sort=True):
        *where, metric = values
        yield f"{' / '.join(v for v in where if v) or 'all'}: {metric}", rows


def leaderboard(runs: pd.DataFrame, keys: Sequence[str], confidence: float = 0.95) -> pd.DataFrame:
    """One row per configuration of ``scored_runs``: n, seeds, mean, std, CI, rank and tie with the leader.

    Ranks count within a section (task, dataset, device, metric); ``tie`` marks an entry whose interval
    overlaps the leader's (an interval that needs two seeds to exist is taken as the mean alone).
    """
    keys = list(keys)
    table = as_text(runs, keys + ["metric"])
    table["maximize"] = runs["maximize"].astype(bool)
    table["value"] = runs["value"]
    table["seed"] = texts(runs["seed"])
    table["train_s"] = pd.to_numeric(runs["timing.train_s"], errors="coerce") if "timing.train_s" in runs else np.nan
    extra = {} if "device" in keys else {"devices": ("device", lambda d: ",".join(sorted(set(map(text, d)))))}
    if extra:
        table["device"] = runs["device"]
    board = (
        table.groupby(keys + ["metric"], sort=True, dropna=False)
        .agg(
            maximize=("maximize", "first"),
            n=("value", "size"),
            seeds=("seed", seed_ranges),
            mean=("value", "mean"),
            std=("value", "std"),
            train_s=("train_s", "mean"),
            **extra,
        )
        .reset_index()
    )
    half = t_half_width(board["std"], board["n"], confidence)
    board["ci_low"], board["ci_high"] = board["mean"] - half, board["mean"] + half
    section = section_columns(keys)
    board["score"] = np.where(board["maximize"], board["mean"], -board["mean"])
    board = board.sort_values(section + ["score"] + keys, ascending=[True] * len(section) + [False] + [True] * len(keys), kind="stable")
    board["rank"] = board.groupby(section, sort=False)["score"].rank(method="min", ascending=False).astype(int)
    low, high = board["ci_low"].fillna(board["mean"]), board["ci_high"].fillna(board["mean"])
    leader = board.groupby(section, sort=False).cumcount() == 0
    leader_low = low.where(leader).groupby([board[k] for k in section]).transform("first")
    leader_high = high.where(leader).groupby([board[k] for k in section]).transform("first")
    board["tie"] = ~leader & (high >= leader_low) & (low <= leader_high)
    columns = keys + list(extra) + ["metric", "maximize", "n", "seeds", "mean", "std", "ci_low", "ci_high", "rank", "tie", "train_s"]
    return board[columns].reset_index(drop=True)


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


def varying_keys(table: pd.DataFrame, keys: Sequence[str], section: Sequence[str]) -> set[str]:
    """The folded keys whose value (choice or hyperparameter) differs between rows of one section."""
    varies = {c for c in keys if c not in section and table.groupby(list(section))[c].nunique().max() > 1}
    return {key for key, hyper in fold_keys(keys).items() if varies & {key, *hyper}}


def compare(choice: pd.Series, baseline: pd.Series, confidence: float = 0.95) -> dict[str, Any]:
    """Difference of means (choice - baseline), its t interval and two-sided p-value.

    Both series are indexed by seed. When the seeds match one to one the runs are paired (same data
    order and initialisation per seed) and the paired t-test applies; otherwise Welch's t-test with the
    Welch-Satterthwaite degrees of freedom. The closed forms are those of ``scipy.stats.ttest_rel`` and
    ``ttest_ind(equal_var=False)`` (the tests check them against scipy) without their per-call overhead,
    which a report of hundreds of comparisons would feel.
    """
    values, base = choice.to_numpy(dtype=float), baseline.to_numpy(dtype=float)
    n_choice, n_baseline = len(values), len(base)
    result = {"n_choice": n_choice, "n_baseline": n_baseline, "test": "none", "diff": values.mean() - base.mean()}
    result.update(ci_low=math.nan, ci_high=math.nan, p_value=math.nan)
    paired = n_choice >= 2 and choice.index.is_unique and baseline.index.is_unique and "" not in choice.index
    paired = paired and set(choice.index) == set(baseline.index)
    if paired:
        by_seed = dict(zip(baseline.index, base))
        differences = values - np.array([by_seed[seed] for seed in choice.index])
        diff, se, df = differences.mean(), differences.std(ddof=1) / math.sqrt(n_choice), n_choice - 1
        result.update(test="paired", diff=diff)
    elif n_choice >= 2 and n_baseline >= 2:
        var_choice, var_baseline = values.var(ddof=1) / n_choice, base.var(ddof=1) / n_baseline
        spread = var_choice**2 / (n_choice - 1) + var_baseline**2 / (n_baseline - 1)
        diff, se = result["diff"], math.sqrt(var_choice + var_baseline)
        df = (var_choice + var_baseline) ** 2 / spread if spread > 0 else 1.0  # scipy's convention for zero spread
        result.update(test="welch")
    else:
        return result
    with np.errstate(divide="ignore", invalid="ignore"):  # zero spread: t is infinite (or undefined), as in scipy
        t = np.float64(diff) / np.float64(se)
    half = float(special.stdtrit(df, (1 + confidence) / 2)) * se
    result.update(ci_low=diff - half, ci_high=diff + half, p_value=float(2 * special.stdtr(df, -abs(t))))
    return result


def _verdict(row: Mapping[str, Any], alpha: float) -> str:
    if math.isnan(row["p_value"]):
        return "untested"
    if row["p_value"] >= alpha:
        return "n.s."
    return "better" if (row["diff"] > 0) == row["maximize"] else "worse"


def ablation(
    runs: pd.DataFrame, keys: Sequence[str], baseline: Mapping[str, Mapping[str, str]] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Each choice of each slot against the slot's baseline, with every other key held fixed.

    A comparison happens only within a *context* (one value of every other key) that has runs of
    both; ``context`` names the keys that vary within the section, so each row says what was fixed.
    """
    baseline = baseline if baseline is not None else parse_baseline(None)
    keys = list(keys)
    section = section_columns(keys)
    table = as_text(runs, keys + ["metric"])
    varying = varying_keys(table, keys, section)
    # configuration -> [(seed, value), ...]: the slots below loop over configurations, not runs
    configs: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
    directions: dict[tuple[str, ...], bool] = {}
    for config, seed, value, higher in zip(table.itertuples(index=False, name=None), texts(runs["seed"]), runs["value"], runs["maximize"]):
        configs[config].append((seed, value))
        directions[config] = bool(higher)
    rows = []
    for slot, pins in baseline.items():
        if slot not in keys:
            continue
        unknown = [column for column in pins if column not in keys]
        if unknown:
            raise ReportInputError(f"--baseline pins {', '.join(unknown)}, which is not among the keys; keys: {', '.join(keys)}")
        hyper = [c for c in keys if c.startswith(slot + ".")]
        fixed_keys = section + [c for c in keys if c != slot and c not in hyper and c not in section]
        # context (the other keys) -> choice label (None for the baseline) -> [(seed, value), ...]
        contexts: dict[tuple[str, ...], dict[str | None, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
        maximize: dict[tuple[str, ...], bool] = {}
        for config, pairs in configs.items():
            record = dict(zip(keys + ["metric"], config))
            fixed = tuple(record[c] for c in fixed_keys)
            is_base = all(record[c] == v for c, v in pins.items())
            label = None if is_base else choice_label(slot, record[slot], {c: record[c] for c in hyper})
            contexts[fixed][label].extend(pairs)
            maximize[fixed] = directions[config]
        base_label = ", ".join(f"{c}={v}" for c, v in pins.items())
        for fixed in sorted(contexts):
            choices = contexts[fixed]
            base = choices.pop(None, None)
            if base is None:
                continue
            described = describe(dict(zip(fixed_keys, fixed)), varying)
            head = dict(zip(section, fixed), slot=slot, baseline=base_label, context=described, maximize=maximize[fixed])
            for label in sorted(choices):
                rows.append({**head, "choice": label, **compare(_by_seed(choices[label]), _by_seed(base), confidence)})
    columns = section + ["slot", "choice", "baseline", "context", "n_choice", "n_baseline", "test", "diff", "ci_low", "ci_high", "p_value"]
    frame = pd.DataFrame(rows, columns=columns + ["maximize"])
    frame["verdict"] = [_verdict(row, 1 - confidence) for row in frame.to_dict("records")]
    return frame[columns + ["verdict"]]


def _by_seed(pairs: Sequence[tuple[str, float]]) -> pd.Series:
    return pd.Series([value for _, value in pairs], index=[seed for seed, _ in pairs], dtype=float)


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
