"""Each component choice across several tasks or datasets: rliable's aggregates (Agarwal et al. 2021).

A choice (``activation=elu``) is scored by all its runs in every section (task, dataset, device) of
one metric, the other settings pooled (named in the ``pooled`` column), so a section with more runs of
the choice weighs more. The interquartile mean (IQM: the mean of the middle half of
all those runs) is robust to a few outlying runs yet uses half the data, unlike the median; the
performance profile is the share of runs above each threshold tau. Intervals come from the
stratified bootstrap: runs are resampled within each section, so every resample keeps each section's
number of runs. Scores are the metric's raw values, so aggregate only metrics on one scale across
datasets (accuracy, IoU).

Every resample is a row of counts (how often each run was drawn), so the IQM and the profile of all
resamples are two matrix products over runs sorted once, with no per-resample sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cnnbench.report.stats import fold, section_columns, texts

#: resamples of the stratified bootstrap (rliable's default for performance profiles), fewer for a choice
#: with more than DRAWS / RESAMPLES runs so that one choice costs at most DRAWS draws. The resampling
#: error of a 95% interval's end is about a thirtieth of its half-width at 2000 resamples and a tenth
#: at the floor of 200, and that half-width shrinks as 1 / sqrt(runs): at 2,500 runs of an accuracy
#: the error is in the fifth decimal, below what the report prints
RESAMPLES = 2000
MIN_RESAMPLES = 200
DRAWS = 250_000
#: thresholds per performance profile, evenly spread over the runs' range
PROFILE_POINTS = 11
AGGREGATE_COLUMNS = ["metric", "slot", "choice", "sections", "runs", "pooled", "iqm", "iqm_low", "iqm_high", "tau", "above", "above_low", "above_high"]
PROFILE_COLUMNS = ["metric", "slot", "choice", "tau", "above", "above_low", "above_high"]


def resamples_for(runs: int) -> int:
    return int(np.clip(DRAWS // max(runs, 1), MIN_RESAMPLES, RESAMPLES))


def _resample_counts(sizes: Sequence[int], rng: np.random.Generator, columns: np.ndarray | None = None) -> np.ndarray:
    """(resamples, sum(sizes)) draw counts of a bootstrap stratified by consecutive blocks of ``sizes``;
    run i's count goes to column ``columns[i]`` when given (the runs in value order, for :func:`_iqm`)."""
    total = int(sum(sizes))
    resamples = resamples_for(total)
    counts = np.empty((resamples, total), dtype=np.float32)  # exact integers (below 2**24); the products below run in BLAS
    rows, offset = np.arange(resamples)[:, None], 0
    for size in sizes:  # one block at a time: small temporaries, no page faults of a (resamples, total) index array
        drawn = rng.integers(0, size, (resamples, size)) + rows * size
        block = np.bincount(drawn.ravel(), minlength=resamples * size).reshape(resamples, size)
        counts[:, slice(offset, offset + size) if columns is None else columns[offset : offset + size]] = block
        offset += size
    return counts


def _iqm(counts: np.ndarray, ordered: np.ndarray) -> np.ndarray:
    """The 25%-trimmed mean (``scipy.stats.trim_mean(x, 0.25)``) of each row's multiset of ``ordered``,
    values sorted ascending: a run's weight is how many of its copies fall inside the middle half."""
    total = len(ordered)
    cut = int(0.25 * total)
    upto = np.cumsum(counts, axis=1, dtype=counts.dtype)
    before = upto - counts
    np.clip(upto, cut, total - cut, out=upto)
    np.clip(before, cut, total - cut, out=before)
    upto -= before
    return upto @ ordered / (total - 2 * cut)


def _profile(counts: np.ndarray, values: np.ndarray, taus: np.ndarray, maximize: bool) -> np.ndarray:
    """The share of each row's runs that beat each tau (above it, or below it for a minimised metric)."""
    beats = (values[:, None] > taus[None, :]) if maximize else (values[:, None] < taus[None, :])
    return counts @ beats.astype(counts.dtype) / len(values)


def _choice_labels(runs: pd.DataFrame, slot: str, hyper: list[str]) -> np.ndarray:
    """Each run's choice of ``slot`` with its hyperparameters, ``mixed(lam=0.5)``, folded once per distinct value."""
    settings = pd.DataFrame({k: texts(runs[k]) for k in [slot, *hyper]})
    codes = settings.groupby(list(settings.columns), sort=False).ngroup().to_numpy()  # numbered by first appearance
    return fold(settings.drop_duplicates(), [slot, *hyper])[slot].to_numpy()[codes]


def _pooled(varying: Sequence[str]) -> str:
    """``activation, optimizer.lr``: the varying settings, a hyperparameter named by its slot when the slot varies too."""
    return ", ".join(dict.fromkeys(k.split(".")[0] if k.split(".")[0] in varying else k for k in varying))


def aggregates(
    runs: pd.DataFrame, keys: Sequence[str], slots: Sequence[str], confidence: float = 0.95, settings: Sequence[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The IQM and performance profile of each choice of each slot, for a metric with at least two
    sections in which all the compared choices ran, and the full profiles (``PROFILE_POINTS``
    thresholds a choice) for plotting. The table's ``tau`` is the median of all the compared runs;
    ``pooled`` names the other settings (``keys`` and ``settings``: the identity's, where ``--by`` left
    some out) whose values differ among them: the configurations a choice's score pools."""
    section = [c for c in section_columns(keys) if c != "metric"]
    quantiles = [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100]
    strata = pd.DataFrame({c: texts(runs[c]) for c in section}).groupby(section, sort=True).ngroup().to_numpy() if section else np.zeros(len(runs), int)
    metrics, values_all = texts(runs["metric"]).to_numpy(), runs["value"].to_numpy(dtype=float)
    maximize_all = runs["maximize"].to_numpy(dtype=bool)
    rows, profiles = [], []
    codes = {k: pd.factorize(texts(runs[k]))[0] for k in dict.fromkeys([*keys, *settings]) if k not in section and k in runs}  # once, for every slot's `pooled`
    for slot in (s for s in slots if s in keys):
        labels = _choice_labels(runs, slot, [k for k in keys if k.startswith(slot + ".")])
        own = {slot, *(k for k in keys if k.startswith(slot + "."))}
        for metric in sorted(set(metrics)):
            chosen = metrics == metric
            present = pd.crosstab(labels[chosen], strata[chosen]) > 0
            complete = sorted(present.index[present.all(axis=1)])
            if present.shape[1] < 2 or len(complete) < 2:
                continue
            compared = chosen & np.isin(labels, complete)
            scores = values_all[compared]
            taus = np.append(np.linspace(scores.min(), scores.max(), PROFILE_POINTS), np.median(scores))
            maximize = bool(maximize_all[compared][0])
            pooled = _pooled([k for k, code in codes.items() if k not in own and code[compared].min() != code[compared].max()])
            rng = np.random.default_rng(0)
            for choice in complete:
                mine = np.flatnonzero(chosen & (labels == choice))
                mine = mine[np.argsort(strata[mine], kind="stable")]
                order = np.argsort(values_all[mine], kind="stable")
                values = values_all[mine][order]
                sizes = np.unique(strata[mine], return_counts=True)[1]
                counts = _resample_counts(sizes.tolist(), rng, columns=np.argsort(order))  # drawn by section, counted in value order
                point = _profile(np.ones((1, len(values))), values, taus, maximize)[0]
                low, high = np.percentile(_profile(counts, values, taus, maximize), quantiles, axis=0)
                iqm_low, iqm_high = np.percentile(_iqm(counts, values), quantiles)
                iqm = _iqm(np.ones((1, len(values))), values)[0]
                rows.append([metric, slot, choice, len(sizes), len(values), pooled, iqm, iqm_low, iqm_high, taus[-1], point[-1], low[-1], high[-1]])
                profiles += [[metric, slot, choice, *at] for at in zip(taus[:-1], point[:-1], low[:-1], high[:-1])]
    return pd.DataFrame(rows, columns=AGGREGATE_COLUMNS), pd.DataFrame(profiles, columns=PROFILE_COLUMNS)
