"""From a records frame to a :class:`Report`: select the records, then compute every table once.

The renderers (Markdown, HTML, CSV, Parquet) and the plots only read a :class:`Report`, so every
output shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from cnnbench.report.aggregate import aggregates
from cnnbench.report.aside import aside
from cnnbench.report.claims import claims_table, receptive_fields
from cnnbench.report.inference import CORRECTIONS
from cnnbench.report.loader import NoRecordsError
from cnnbench.report.provenance import provenance
from cnnbench.report.stats import (
    DEFAULT_BASELINE,
    Objective,
    ReportInputError,
    ablation,
    as_text,
    bench_table,
    check_baseline,
    deduplicate,
    default_keys,
    leaderboard,
    objectives,
    parse_baseline,
    pytest_benchmark_table,
    scored_runs,
    texts,
)
from cnnbench.report.studies import Study, studies

#: ``--task`` and friends: the option -> the column it filters on
FILTER_COLUMNS = {"task": "task", "dataset": "dataset", "device": "device", "study": "study.name"}
#: the columns of the runs table (and runs.csv) where the runs have them, in the order they sort by first
RUN_COLUMNS = ("run_id", "task", "dataset", "device", "config_id", "seed", "metric", "value", "validation_value", "source")
RUN_ORDER = ("task", "dataset", "device", "config_id", "seed", "run_id")
#: the columns that say which code ran a record, which a configuration's identity leaves out
CODE_VERSIONS = ("git_commit", "versions.cnnbench", "versions.torch")


@dataclass
class Report:
    """Every table of a report, computed from the selected records."""

    frame: pd.DataFrame
    keys: list[str]
    objectives: dict[str, Objective]
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    ablation: pd.DataFrame
    bench: pd.DataFrame
    pytest_benchmark: pd.DataFrame
    studies: list[Study]
    provenance: list[tuple[str, str]]
    repeats: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_list: pd.DataFrame = field(default_factory=pd.DataFrame)
    aggregates: pd.DataFrame = field(default_factory=pd.DataFrame)
    profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    claims: pd.DataFrame = field(default_factory=pd.DataFrame)
    receptive_fields: list[int] = field(default_factory=list)
    confidence: float = 0.95
    correction: str = "holm"
    power: float = 0.8
    notes: list[str] = field(default_factory=list)


def select(frame: pd.DataFrame, where: str | None = None, allowed: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """The rows of ``frame`` that pass the equality filters (``{"task": ["classification"]}``) and ``where``.

    ``where`` is a :meth:`pandas.DataFrame.query` expression; a column with a dot needs backticks.
    """
    everything = frame
    for option, values in (allowed or {}).items():
        if values:
            frame = frame[texts(frame[FILTER_COLUMNS[option]]).isin(list(values))]
    if where:
        try:
            frame = frame.query(where)
        except Exception as error:  # any failure of the user's expression is one line for the user
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ReportInputError(
                f"invalid --where filter {where!r}: {reason}; write a pandas query such as "
                f"\"task == 'classification' and device == 'cpu'\" (backticks around a column with a dot: `pooling.lam` > 0.3)"
            ) from None
    if frame.empty:
        shown = ", ".join(f"{k}={','.join(v)}" for k, v in (allowed or {}).items() if v) + (f" where {where}" if where else "")
        present = "; ".join(f"--{option} values in the records: {', '.join(sorted(set(texts(everything[FILTER_COLUMNS[option]])) - {''})) or 'none'}" for option, values in (allowed or {}).items() if values)
        raise NoRecordsError(f"no records match the filters ({shown or 'none'})" + (f"; {present}" if present else ""))
    return frame


def _chosen_keys(keys: Sequence[str] | None, identity: list[str], frame: pd.DataFrame) -> list[str]:
    """``--by``: the keys as listed, or the identity's with ``+KEY`` ones added (``+versions.torch``)."""
    if not keys:
        return identity
    added = [k[1:] for k in keys if k.startswith("+")]
    if added and len(added) < len(keys):
        raise ReportInputError(f"--by {','.join(keys)}: either list the keys (task,dataset,activation) or add to the default ones (+versions.torch), not both")
    return _check_keys([*identity, *added] if added else keys, frame)


def _check_keys(keys: Sequence[str], frame: pd.DataFrame) -> list[str]:
    unknown = [k for k in keys if k not in frame]
    if unknown:
        known = ", ".join(sorted(c for c in frame.columns if not c.startswith(("metric.", "stats.", "param."))))
        raise ReportInputError(f"--by names unknown columns {', '.join(unknown)}; columns: {known}")
    return list(dict.fromkeys(keys))


def build_report(
    frame: pd.DataFrame,
    *,
    metric: str | None = None,
    maximize: bool | None = None,
    keys: Sequence[str] | None = None,
    baseline: str | None = None,
    confidence: float = 0.95,
    correction: str = "holm",
    power: float = 0.8,
    skipped: Sequence[tuple[str, str]] = (),
) -> Report:
    """Compute the leaderboard, ablation, timing tables, studies and provenance of ``frame``.

    ``correction`` (``holm``, ``bh`` or ``none``) adjusts the p-values of each section's comparisons
    together; ``power`` is the chance an inconclusive comparison's suggested seed count would decide it.
    """
    if correction not in CORRECTIONS:
        raise ReportInputError(f"unknown --correction {correction!r}; choose from {', '.join(CORRECTIONS)}")
    if not 0 < power < 1:
        raise ReportInputError(f"--power must be between 0 and 1 (e.g. 0.8), got {power}")
    goals = objectives(frame[frame["record_type"] == "run"], metric, maximize)
    scored = scored_runs(frame, goals, trials=False)  # sweep trials: their own section
    unscored = _unscored(frame, scored)
    identity = default_keys(scored)
    keys = _chosen_keys(keys, identity, scored if not scored.empty else frame)
    versions = _code_versions(scored, keys)  # before repeats go: a seed rerun under new code is no repeat to hide
    scored, repeats = deduplicate(scored, apart=[k for k in keys if k not in identity])
    pins = parse_baseline(baseline)
    check_baseline(pins, keys, baseline, scored)  # a bad option is refused before the worker starts
    with aside(_aside_tables, scored, keys, identity, confidence, correction, power) as other_tables:
        board = leaderboard(scored, keys, confidence, correction)
        compared = ablation(scored, keys, pins, confidence, correction, power)
        run_list, found_provenance = list_runs(scored), provenance(frame, list(skipped))
        found_studies = studies(frame, goals)  # here: Optuna is then loaded before the figures' workers fork
        (across, profiles), claims = other_tables()
    return Report(
        frame=frame,
        keys=keys,
        objectives=goals,
        runs=scored,
        leaderboard=board,
        ablation=compared,
        bench=bench_table(frame),
        pytest_benchmark=pytest_benchmark_table(frame),
        studies=found_studies,
        provenance=found_provenance,
        repeats=repeats,
        run_list=run_list,
        aggregates=across,
        profiles=profiles,
        claims=claims,
        receptive_fields=receptive_fields() if not claims.empty else [],
        confidence=confidence,
        correction=correction,
        power=power,
        notes=_notes(scored, keys, board, repeats, unscored, versions, goals),
    )


def _aside_tables(
    scored: pd.DataFrame, keys: list[str], identity: list[str], confidence: float, correction: str, power: float
) -> tuple[tuple[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    """The aggregates across sections and the claims: computed in a worker while the leaderboard, the
    ablation and the studies are computed here (the two halves take about as long: 3.1 s each at
    100,000 records)."""
    across = aggregates(scored, keys, list(DEFAULT_BASELINE), confidence, settings=identity)
    return across, claims_table(scored, keys, confidence=confidence, correction=correction, power=power)


def list_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The scored runs in a fixed order (task, dataset, device, configuration, seed as a number), with
    the columns the runs table shows and the record file each came from."""
    order = [c for c in RUN_ORDER if c in runs]
    ordered = runs.sort_values(order, key=lambda c: c if pd.api.types.is_numeric_dtype(c) else c.astype(str), kind="stable") if order else runs
    return ordered[[c for c in RUN_COLUMNS if c in runs]].reset_index(drop=True)


def _unscored(frame: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """The completed runs (not sweep trials) left out for want of a finite test value: run_id, task, config_id."""
    completed = (frame["record_type"] == "run") & (frame["status"] == "completed") & frame["study.name"].isna()
    if completed.sum() == len(scored):  # the common case, without a lookup of 100,000 index labels
        return pd.DataFrame(columns=["run_id", "task", "config_id"])
    left = frame[completed & ~frame.index.isin(scored.index)]
    return pd.DataFrame({"run_id": texts(left["run_id"]), "task": texts(left["task"]), "config_id": texts(left["config_id"])}).sort_values("run_id")


def _code_versions(scored: pd.DataFrame, keys: Sequence[str]) -> tuple[int, list[str]]:
    """How many leaderboard rows pool runs of several code versions, and which version columns differ
    within them (none when ``keys`` keep the versions apart)."""
    columns = [c for c in CODE_VERSIONS if c in scored and c not in keys and scored[c].nunique() > 1]
    if not columns:  # the common case: one version of the code throughout
        return 0, []
    spread = as_text(scored, columns).groupby([texts(scored[k]) for k in [*keys, "metric"]], dropna=False).nunique() > 1
    mixed = spread[spread.any(axis=1)]
    return len(mixed), [c for c in columns if mixed[c].any()]


def _unscored_notes(unscored: pd.DataFrame, scored: pd.DataFrame, goals: Mapping[str, Objective]) -> list[str]:
    """A task none of whose runs has the metric, then the runs that lack a value their configuration's
    other runs have (a diverged run?)."""
    notes, scored_tasks = [], set(texts(scored["task"]))
    for task, rows in unscored[~unscored["task"].isin(scored_tasks)].groupby("task", sort=True):
        metric = goals[task].metric if task in goals else "any metric"
        notes.append(f"{len(rows)} completed runs of {task} are left out: none of them has a finite test value of {metric} (choose another with --metric)")
    diverged = unscored[unscored["task"].isin(scored_tasks)]
    if not diverged.empty:
        ids = diverged["run_id"].tolist()
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        gone = diverged.loc[~diverged["config_id"].isin(set(texts(scored["config_id"]))), "config_id"].nunique()
        means = "their configurations' means are over the other seeds" + (f", and {gone} configurations with no scored run are absent" if gone else "")
        notes.append(f"{len(ids)} completed runs have no finite test value of their metric (diverged?) and are left out, so {means}: {shown}")
    return notes


def _notes(
    scored: pd.DataFrame,
    keys: Sequence[str],
    board: pd.DataFrame,
    repeats: pd.DataFrame,
    unscored: pd.DataFrame,
    versions: tuple[int, list[str]],
    goals: Mapping[str, Objective],
) -> list[str]:
    """What a reader must know before trusting the tables: pooling, repeats, selection on test, runs left out."""
    notes = _unscored_notes(unscored, scored, goals)
    if "device" not in keys and scored["device"].nunique() > 1:
        notes.append("device is not a key: runs on different devices are pooled (see the devices column)")
    spanning, differing = versions
    if spanning:
        notes.append(
            f"{spanning} leaderboard rows pool runs of several code versions ({', '.join(differing)} differ): a configuration is its "
            f"settings, not the code that ran it; to compare versions, keep them apart with --by +{differing[0]} or filter with --where"
        )
    pooled = int(board["config_id"].str.contains(",").sum()) if not board.empty else 0
    if pooled:
        notes.append(f"--by leaves out settings that differ: {pooled} rows pool several configurations (see their config_id)")
    if not repeats.empty:
        extra = int(repeats["runs"].sum() - len(repeats))
        notes.append(f"{extra} repeated runs (same configuration and seed) were left out: the latest finished run of each counts once (see Repeated runs)")
    on_test = int(scored["selected_on_test"].fillna(False).astype(bool).sum()) if "selected_on_test" in scored else 0
    if on_test:
        notes.append(f"{on_test} runs are older records (schema 1) selected on the test split: their test numbers are optimistic")
    return notes
