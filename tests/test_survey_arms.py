"""The survey-claims experiment: each arm changes exactly one thing against the arm it is compared with."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cnnbench.composition import compose_run_config

ARMS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "survey").glob("*.yaml"))
#: arm -> (the arm it is compared with, the one setting that differs)
COMPARED = {
    "avg_pool": ("baseline", "pooling"),
    "mixed_pool": ("baseline", "pooling"),
    "leaky_relu": ("baseline", "activation"),
    "prelu": ("baseline", "activation"),
    "elu": ("baseline", "activation"),
    "maxout": ("baseline", "activation"),
    "l2_hinge": ("baseline", "loss"),
    "triplet": ("contrastive", "loss"),
}


def settings(arm: str) -> dict:
    cfg = compose_run_config([f"+survey={arm}"])
    return OmegaConf.to_container(cfg, resolve=True)


def test_every_arm_is_in_the_experiment_and_compared_with_one_other() -> None:
    sweep = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "experiment" / "survey_claims.yaml")
    assert sorted(sweep.hydra.sweeper.params["+survey"].split(",")) == ARMS
    assert set(COMPARED) | {"baseline", "contrastive"} == set(ARMS)


@pytest.mark.parametrize("arm", sorted(COMPARED))
def test_an_arm_differs_from_its_comparison_in_one_setting(registry, arm: str) -> None:
    reference, slot = COMPARED[arm]
    mine, theirs = settings(arm), settings(reference)
    differing = {key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key)}
    assert differing == {slot}, differing
