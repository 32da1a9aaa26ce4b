"""The survey's claims as data, and the test of each against the runs of ``experiment=survey_claims``.

Gu et al., "Recent Advances in Convolutional Neural Networks" (arXiv:1512.07108; the summary in
``../shared/seed/``) makes claims about the components cnnbench implements. Each :class:`Claim` is one
sentence and the comparison that tests it: a slot, the claimed choice and the choice it is claimed
against, the metric (on the test split, or the overfitting gap train - validation), and whether it
claims an improvement (``better``) or only that the choice competes (``not worse`` by more than a
margin). All claims of a report are one family: their p-values are corrected together.

A claim is decided by a two-sided test of "difference = margin" (0 for ``better``, minus the margin
for ``not worse``): ``supported`` when the corrected p-value is below the level and the difference is
on the claimed side, ``contradicted`` when it is on the other side, else ``inconclusive``, with the
seeds per side that would decide it. As in the ablation, an arm is one configuration: a choice run at
two settings of its hyperparameters (leaky ReLU at slopes 0.01 and 0.3) is tested once per setting, each
on its own seeds, and the context names what differs between the rows. The receptive-field claim is
arithmetic about layers, not about training, so it is computed (:func:`receptive_fields`) instead of
tested.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import NamedTuple

import numpy as np
import pandas as pd

from cnnbench.report.inference import MIN_SEEDS, Sample, adjust, compare_all, family_level, seeds_to_decide
from cnnbench.report.stats import agree, as_text, choice_label, describe, numeric_column, section_columns, texts, varying_keys


@dataclass(frozen=True)
class Claim:
    """One claim of the survey and the comparison that tests it."""

    sentence: str
    task: str
    slot: str
    choice: str
    baseline: str
    metric: str
    kind: str = "better"  # "better" or "not worse"
    margin: float = 0.0  # "not worse": how far below the baseline still competes
    overfitting: bool = False  # compares the train - validation gap of ``metric``: lower is better

    @property
    def comparison(self) -> str:
        measure = f"{self.metric} gap (train - validation)" if self.overfitting else f"test {self.metric}"
        return f"{self.slot}={self.choice} vs {self.baseline}, {measure}"


#: what "competes" allows: one point of accuracy or recall
COMPETES = 0.01
CLAIMS: tuple[Claim, ...] = (
    Claim("Mixed pooling does a little better than max pooling.", "classification", "pooling", "mixed_random", "max", "accuracy"),
    Claim("Mixed pooling does a little better than average pooling.", "classification", "pooling", "mixed_random", "avg", "accuracy"),
    Claim("Mixed pooling reduces overfitting compared with max pooling.", "classification", "pooling", "mixed_random", "max", "accuracy", overfitting=True),
    Claim("Leaky ReLU improves on ReLU.", "classification", "activation", "leaky_relu", "relu", "accuracy"),
    Claim("PReLU improves on ReLU.", "classification", "activation", "prelu", "relu", "accuracy"),
    Claim("ELU is a useful alternative to ReLU.", "classification", "activation", "elu", "relu", "accuracy", "not worse", COMPETES),
    Claim("Maxout is a useful alternative to ReLU.", "classification", "activation", "maxout", "relu", "accuracy", "not worse", COMPETES),
    Claim("The L2 (squared) hinge loss competes with softmax.", "classification", "loss", "hinge", "softmax", "accuracy", "not worse", COMPETES),
    Claim("Triplet loss improves on contrastive loss for retrieval.", "metric_learning", "loss", "triplet", "contrastive", "recall_at_1"),
)
DILATION_CLAIM = "Stacked dilated convolutions grow the receptive field exponentially (3, 7, 15)."
CLAIM_COLUMNS = [
    "claim", "comparison", "context", "n_choice", "n_baseline", "test", "diff", "ci_low", "ci_high", "p_better", "p_value", "p_adjusted",
    "gap_choice", "gap_baseline", "verdict", "seeds_to_decide",
]


def _gap(runs: pd.DataFrame, metric: str) -> pd.Series:
    """The overfitting gap of ``metric`` per run: train minus validation."""
    return numeric_column(runs, f"train.{metric}") - numeric_column(runs, f"validation.{metric}")


def _mean_of_finite(values: np.ndarray) -> float:
    """The mean of the finite values (a record selected on test has no gap), NaN when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


class _Comparison(NamedTuple):
    """One configuration of a claim's choice against one of its baseline, in one context."""

    settings: dict[str, str]  # the keys held fixed: all but the claim's slot and its hyperparameters
    arms: tuple[str, str]  # the choice and the baseline with their hyperparameters: leaky_relu(negative_slope=0.3)
    samples: tuple[Sample, Sample]
    gaps: tuple[float, float]  # mean overfitting gap of each arm


def _comparisons(runs: pd.DataFrame, settings: pd.DataFrame, claim: Claim) -> list[_Comparison]:
    """Each configuration of a claim's choice against each of its baseline, within each context
    holding both; ``settings`` holds the runs' keys as text, the section's first.

    A configuration is one setting of the slot's hyperparameters too: leaky ReLU at two slopes is two
    comparisons, each on its own seeds (paired with the baseline's when they match), as in the ablation,
    never one arm holding every seed twice.
    """
    if claim.slot not in settings:
        return []
    rows = (settings["task"] == claim.task) & settings[claim.slot].isin([claim.choice, claim.baseline])
    chosen = runs[rows]
    gap = _gap(chosen, claim.metric)
    value = gap if claim.overfitting else numeric_column(chosen, f"metric.{claim.metric}")
    hyper = [k for k in settings.columns if k.startswith(claim.slot + ".")]
    fixed = [k for k in settings.columns if k != claim.slot and k not in hyper]
    table = settings.loc[rows].assign(_seed=texts(chosen["seed"]), _value=value, _gap=gap)
    table = table[np.isfinite(table["_value"])]
    seed, values, gaps = (table[c].to_numpy() for c in ("_seed", "_value", "_gap"))
    # context -> arm -> (hyperparameter values, run positions) of each of the arm's configurations
    configs: dict[tuple[str, ...], dict[str, list[tuple[tuple[str, ...], np.ndarray]]]] = defaultdict(lambda: defaultdict(list))
    for key, at in table.groupby([*fixed, claim.slot, *hyper], sort=True).indices.items():
        configs[key[: len(fixed)]][key[len(fixed)]].append((key[len(fixed) + 1 :], at))
    found = []
    for context, arms in configs.items():
        for (choice, at_choice), (base, at_base) in product(arms[claim.choice], arms[claim.baseline]):
            if agree(choice, base):
                sides = ((claim.choice, choice, at_choice), (claim.baseline, base, at_base))
                found.append(_Comparison(
                    dict(zip(fixed, context)),
                    tuple(choice_label(claim.slot, name, dict(zip(hyper, setting))) for name, setting, _ in sides),
                    tuple(Sample(tuple(seed[at]), values[at].astype(float)) for *_, at in sides),
                    tuple(_mean_of_finite(gaps[at].astype(float)) for *_, at in sides),
                ))
    return found


def _contexts(found: Sequence[tuple[Claim, _Comparison]], section: Sequence[str]) -> list[str]:
    """What tells each comparison from the others: its dataset and device, the held keys whose value
    differs between comparisons of a section (folded, as the ablation's context), and its arms where
    a claim is tested at more than one setting of them."""
    held = pd.DataFrame([comparison.settings for _, comparison in found])  # a claim's own slot: missing, not a value
    shown = {"dataset", "device"} | varying_keys(held, list(held.columns), [k for k in section if k in held])
    return [", ".join(part for part in (describe(comparison.settings, shown), arm) if part) for (_, comparison), arm in zip(found, _arm_texts(found))]


def _arm_texts(found: Sequence[tuple[Claim, _Comparison]]) -> list[str]:
    """``activation=leaky_relu(negative_slope=0.3)`` for each comparison of a claim whose choice is
    tested at several settings, with `` vs <baseline>`` where the baseline's setting differs too; ""
    where the claim's arms are one setting each, which the comparison column already names."""
    labels: dict[str, list[set[str]]] = defaultdict(lambda: [set(), set()])
    for claim, comparison in found:
        for side, label in zip(labels[claim.sentence], comparison.arms):
            side.add(label)
    arms = []
    for claim, comparison in found:
        choice_varies, baseline_varies = (len(side) > 1 for side in labels[claim.sentence])
        versus = f" vs {comparison.arms[1]}" if baseline_varies else ""
        arms.append(f"{claim.slot}={comparison.arms[0]}{versus}" if choice_varies or baseline_varies else "")
    return arms


def claims_table(
    runs: pd.DataFrame, keys: Sequence[str], claims: Sequence[Claim] = CLAIMS, confidence: float = 0.95, correction: str = "holm", power: float = 0.8
) -> pd.DataFrame:
    """One row per claim, context and configuration of each arm with runs of both arms; empty when no
    claim has runs."""
    rows, choices, shifted, baselines, higher = [], [], [], [], []
    section = [k for k in section_columns(keys) if k != "metric"]
    # a claim is about one task: its column is read even where --by leaves it out
    settings = as_text(runs, section + [k for k in ["task", *keys] if k not in section])
    found = [(claim, comparison) for claim in claims for comparison in _comparisons(runs, settings, claim)]
    if not found:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    for (claim, comparison), context in zip(found, _contexts(found, section)):
        (choice, baseline), (gap_choice, gap_baseline) = comparison.samples, comparison.gaps
        maximize = not claim.overfitting
        shift = claim.margin if maximize else -claim.margin  # "not worse": test choice + margin against baseline
        rows.append({"claim": claim.sentence, "comparison": claim.comparison, "context": context, "gap_choice": gap_choice, "gap_baseline": gap_baseline, "shift": shift})
        choices.append(choice)
        shifted.append(Sample(choice.seeds, choice.values + shift))
        baselines.append(baseline)
        higher.append(maximize)
    frame = pd.DataFrame(rows)
    tested = compare_all(shifted, baselines, higher, confidence)
    moved = np.flatnonzero(frame["shift"].to_numpy() != 0)  # P(better) is of the choice itself, not of choice + margin
    if len(moved):
        unmoved = compare_all([choices[i] for i in moved], [baselines[i] for i in moved], [higher[i] for i in moved], confidence, intervals=False)
        tested.loc[moved, "p_better"] = unmoved["p_better"].to_numpy()
    frame = pd.concat([frame, tested], axis=1)
    frame["p_adjusted"] = adjust(frame["p_value"].to_numpy(), correction)
    alpha = 1 - confidence
    level = family_level(alpha, int(np.isfinite(frame["p_value"]).sum()), correction)
    verdicts, needed = [], []
    for row, maximize in zip(frame.to_dict("records"), higher):
        claimed_side = (row["diff"] > 0) == maximize  # diff is already measured from the margin
        if row["test"] == "none":
            verdicts.append(f"too few seeds (< {MIN_SEEDS})")
            needed.append(np.nan)
        elif row["p_adjusted"] < alpha:
            verdicts.append("supported" if claimed_side else "contradicted")
            needed.append(np.nan)
        else:
            verdicts.append("inconclusive")
            needed.append(seeds_to_decide(row["diff"], row["spread"], level, power, row["test"] == "sign-flip"))
    frame["verdict"], frame["seeds_to_decide"] = verdicts, needed
    for column in ("diff", "ci_low", "ci_high"):  # report the difference itself, not its distance from the margin
        frame[column] = frame[column] - frame["shift"]
    return frame[CLAIM_COLUMNS]


def receptive_fields(dilations: Sequence[int] = (1, 2, 4)) -> list[int]:
    """The side of the input square one output pixel depends on after each of stacked 3x3 convolutions
    with ``dilations``: the support of the kernels composed so far (a dilated 3x3 kernel is separable,
    so one axis is enough), or 0 where the composed footprint has holes, which a claim of "no gaps" would
    exclude."""
    footprint, sides = np.ones(1), []
    for dilation in dilations:
        kernel = np.zeros(2 * dilation + 1)
        kernel[::dilation] = 1.0  # 3 taps, dilation - 1 zeros between them
        footprint = np.convolve(footprint, kernel)
        sides.append(len(footprint) if footprint.all() else 0)
    return sides
