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
seeds per side that would decide it. The receptive-field claim is arithmetic about layers, not about
training, so it is measured (:func:`receptive_fields`) instead of tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnbench.report.inference import MIN_SEEDS, Sample, adjust, compare_all, family_level, seeds_to_decide
from cnnbench.report.stats import section_columns, texts


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
    return _column(runs, f"train.{metric}") - _column(runs, f"validation.{metric}")


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(runs[name], errors="coerce") if name in runs else pd.Series(np.nan, index=runs.index)


def _comparisons(runs: pd.DataFrame, keys: Sequence[str], claim: Claim) -> list[tuple[str, Sample, Sample, float, float]]:
    """(context, choice sample, baseline sample, mean gaps) for each context holding both of a claim's arms."""
    chosen = runs[(texts(runs["task"]) == claim.task) & runs[claim.slot].isin([claim.choice, claim.baseline])] if claim.slot in runs else runs.iloc[:0]
    gap = _gap(chosen, claim.metric)
    chosen = chosen.assign(_value=gap if claim.overfitting else _column(chosen, f"metric.{claim.metric}"), _gap=gap)
    chosen = chosen[np.isfinite(chosen["_value"])]
    fixed = [k for k in section_columns(keys) if k != "metric"] + [k for k in keys if k != claim.slot and not k.startswith(claim.slot + ".") and k not in section_columns(keys)]
    found = []
    for context, group in chosen.groupby([texts(chosen[k]) for k in fixed], sort=True) if fixed else [((), chosen)]:
        arms = {arm: group[group[claim.slot] == arm] for arm in (claim.choice, claim.baseline)}
        if any(arm.empty for arm in arms.values()):
            continue
        samples = [Sample(tuple(texts(arm["seed"])), arm["_value"].to_numpy(dtype=float)) for arm in arms.values()]
        where = ", ".join(f"{k}={v}" for k, v in zip(fixed, context) if k in ("dataset", "device") and v)
        found.append((where, *samples, arms[claim.choice]["_gap"].mean(), arms[claim.baseline]["_gap"].mean()))
    return found


def claims_table(
    runs: pd.DataFrame, keys: Sequence[str], claims: Sequence[Claim] = CLAIMS, confidence: float = 0.95, correction: str = "holm", power: float = 0.8
) -> pd.DataFrame:
    """One row per claim and context with runs of both arms; empty when no claim has runs."""
    rows, choices, shifted, baselines, higher = [], [], [], [], []
    for claim in claims:
        for context, choice, baseline, gap_choice, gap_baseline in _comparisons(runs, keys, claim):
            maximize = not claim.overfitting
            shift = claim.margin if maximize else -claim.margin  # "not worse": test choice + margin against baseline
            rows.append({"claim": claim.sentence, "comparison": claim.comparison, "context": context, "gap_choice": gap_choice, "gap_baseline": gap_baseline, "shift": shift})
            choices.append(choice)
            shifted.append(Sample(choice.seeds, choice.values + shift))
            baselines.append(baseline)
            higher.append(maximize)
    if not rows:
        return pd.DataFrame(columns=CLAIM_COLUMNS)
    frame = pd.DataFrame(rows)
    tested = compare_all(shifted, baselines, higher, confidence)
    tested["p_better"] = compare_all(choices, baselines, higher, confidence, intervals=False)["p_better"]  # of the choice itself
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


def receptive_fields(dilations: Sequence[int] = (1, 2, 4), size: int = 33) -> list[int]:
    """The side of the input square one output pixel depends on after each of stacked 3x3 convolutions
    with ``dilations``, measured from the gradient of the centre output pixel (torch is imported here,
    only when the claims section is written)."""
    import torch

    torch.manual_seed(0)
    layers, sides = [], []
    for dilation in dilations:
        layers.append(torch.nn.Conv2d(1, 1, 3, padding=dilation, dilation=dilation, bias=False))
        torch.nn.init.uniform_(layers[-1].weight, 0.1, 1.0)  # positive weights: every path shows in the gradient
        image = torch.ones(1, 1, size, size, requires_grad=True)
        torch.nn.Sequential(*layers)(image)[0, 0, size // 2, size // 2].backward()
        rows = torch.nonzero(image.grad[0, 0].abs().sum(dim=1))
        sides.append(int(rows.max() - rows.min() + 1))
    return sides
