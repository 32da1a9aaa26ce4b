"""The survey claims section: each claim tested by its comparison, corrected together, with a verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cnnbench.report import load, synthetic
from cnnbench.report.build import build_report
from cnnbench.report.claims import CLAIMS, COMPETES, receptive_fields
from cnnbench.report.render import document, markdown


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("survey")
    synthetic.write_all(synthetic.survey_records(seeds=range(10)), folder)
    return build_report(load(folder))


def test_every_claim_is_tested_by_its_own_comparison(survey) -> None:
    claims = survey.claims.set_index("claim")
    assert list(claims.index) == [claim.sentence for claim in CLAIMS]
    assert (claims["n_choice"] == 10).all() and (claims["test"] == "sign-flip").all()
    prelu = claims.loc["PReLU improves on ReLU."]
    runs = survey.runs[survey.runs["task"] == "classification"]
    by_seed = {arm: runs[(runs["activation"] == arm) & (runs["pooling"] == "max") & (runs["loss"] == "softmax")].set_index("seed")["value"] for arm in ("prelu", "relu")}
    differences = (by_seed["prelu"] - by_seed["relu"]).to_numpy(dtype=float)
    assert prelu["diff"] == pytest.approx(differences.mean())
    exact = stats.permutation_test((differences, np.zeros(10)), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf).pvalue
    assert prelu["p_value"] == pytest.approx(exact) and prelu["p_adjusted"] == pytest.approx(min(1.0, exact * len(CLAIMS)))
    assert claims.loc["Triplet loss improves on contrastive loss for retrieval.", "comparison"] == "loss=triplet vs contrastive, test recall_at_1"


def test_verdicts_follow_the_corrected_test_and_the_claimed_side(survey) -> None:
    verdict = survey.claims.set_index("claim")["verdict"]
    assert verdict["PReLU improves on ReLU."] == "supported"  # +0.004 on every seed
    assert verdict["Mixed pooling does a little better than average pooling."] == "supported"
    assert verdict["Maxout is a useful alternative to ReLU."] == "contradicted"  # 0.03 worse: beyond the 0.01 margin
    assert verdict["ELU is a useful alternative to ReLU."] == "supported"  # 0.001 worse: within the margin
    assert verdict["Leaky ReLU improves on ReLU."] == "inconclusive"  # no effect: no verdict, and how many seeds
    row = survey.claims.set_index("claim").loc["Leaky ReLU improves on ReLU."]
    assert row["seeds_to_decide"] > 10


def test_the_overfitting_claim_compares_train_minus_validation(survey) -> None:
    row = survey.claims.set_index("claim").loc["Mixed pooling reduces overfitting compared with max pooling."]
    runs = survey.runs[(survey.runs["activation"] == "relu") & (survey.runs["loss"] == "softmax")]
    gap = runs["train.accuracy"] - runs["validation.accuracy"]
    assert row["gap_choice"] == pytest.approx(gap[runs["pooling"] == "mixed_random"].mean())
    assert row["gap_baseline"] == pytest.approx(gap[runs["pooling"] == "max"].mean())
    assert row["diff"] == pytest.approx(row["gap_choice"] - row["gap_baseline"]) and row["diff"] < 0
    assert row["verdict"] == "supported"  # lower gap is the claimed side


def test_competes_means_not_worse_by_the_margin(write) -> None:
    softmax = [synthetic.run_record(i, seed=i, accuracy=0.96 + 0.004 * np.sin(i)) for i in range(10)]
    hinge = [synthetic.run_record(20 + i, loss="hinge", seed=i, accuracy=0.96 + 0.004 * np.sin(i) - 0.004 - 0.0002 * i) for i in range(10)]
    report = build_report(load(write(softmax + hinge)))
    row = report.claims.set_index("claim").loc["The L2 (squared) hinge loss competes with softmax."]
    assert -COMPETES < row["diff"] < 0 and row["verdict"] == "supported"  # worse, but by less than the margin
    assert report.claims["claim"].tolist() == ["The L2 (squared) hinge loss competes with softmax."]  # only claims with runs
    worse = [dict(r, metrics={**r["metrics"], "test": {**r["metrics"]["test"], "accuracy": r["metrics"]["test"]["accuracy"] - 0.02}}) for r in hinge]
    assert build_report(load(write(softmax + worse))).claims["verdict"].tolist() == ["contradicted"]


def test_claims_need_runs_of_both_arms(write) -> None:
    report = build_report(load(write([synthetic.run_record(i, seed=i) for i in range(3)])))
    assert report.claims.empty and report.receptive_fields == [] and "## Survey claims" not in markdown(document(report, []))


def test_the_claims_section_is_written(survey) -> None:
    text = markdown(document(survey, []))
    assert "## Survey claims" in text and "Holm (1979)" in text
    assert "| PReLU improves on ReLU. | activation=prelu vs relu, test accuracy | dataset=digits, device=cpu | 10/10 | sign-flip | +0.0036 |" in text
    assert "| 1.00 | 0.0176 |  | supported |" in text  # P(better) on all 10 seeds, p = 2/1024 corrected over 9 claims
    assert "| 0.0098 vs 0.0203 | supported |" in text  # the gap is shown where the claim is about overfitting
    assert "dilations 1, 2, 4, from the composed kernels: 3, 7, 15, without holes; supported" in text


def test_receptive_fields_of_stacked_dilations() -> None:
    assert receptive_fields((1, 2, 4)) == [3, 7, 15]
    assert receptive_fields((1, 1, 1)) == [3, 5, 7]  # without dilation: linear growth
    assert receptive_fields((1, 4)) == [3, 0]  # dilation 4 after a 3-wide footprint leaves holes


def test_receptive_fields_match_the_gradient_of_the_dilated_block() -> None:
    """The same footprint measured on torch convolutions, from the input gradient of the centre pixel."""
    import torch

    layers, sides = [], []
    for dilation in (1, 2, 4):
        layers.append(torch.nn.Conv2d(1, 1, 3, padding=dilation, dilation=dilation, bias=False))
        torch.nn.init.uniform_(layers[-1].weight, 0.1, 1.0)
        image = torch.ones(1, 1, 33, 33, requires_grad=True)
        torch.nn.Sequential(*layers)(image)[0, 0, 16, 16].backward()
        rows = torch.nonzero(image.grad[0, 0].abs().sum(dim=1))
        sides.append(int(rows.max() - rows.min() + 1))
    assert sides == receptive_fields((1, 2, 4))


def test_p_better_is_of_the_choice_itself_not_of_the_margin(survey) -> None:
    elu = survey.claims.set_index("claim").loc["ELU is a useful alternative to ReLU."]
    assert elu["diff"] < 0 and elu["p_better"] < 0.5  # worse than ReLU on most seeds, though within the margin


def _arm(start: int, seeds: range, **arm) -> list[dict]:
    """The records of one configuration over ``seeds``, indexed from ``start``."""
    return [synthetic.run_record(start + i, seed=seed, **arm) for i, seed in enumerate(seeds)]


def test_no_claim_pools_two_hyperparameter_settings(write) -> None:
    """Leaky ReLU at two slopes is two configurations: each is tested on its own 3 seeds, paired with
    ReLU's, as the ablation tests it, not pooled into 6 runs counted as independent of ReLU's 3."""
    slopes = [_arm(10 * k, range(3), activation="leaky_relu", hyperparameters={"activation": {"negative_slope": s}}) for k, s in enumerate((0.01, 0.3), 1)]
    report = build_report(load(write(_arm(0, range(3)) + slopes[0] + slopes[1])))
    claims = report.claims.set_index("context")
    assert len(claims) == 2 and (claims["claim"] == "Leaky ReLU improves on ReLU.").all()
    assert (claims[["n_choice", "n_baseline"]] == 3).all().all() and (claims["test"] == "sign-flip").all()
    ablation = report.ablation.set_index("choice")
    for slope in ("0.01", "0.3"):
        row = claims.loc[f"dataset=digits, device=cpu, activation=leaky_relu(negative_slope={slope})"]
        assert row["diff"] == pytest.approx(ablation.loc[f"leaky_relu(negative_slope={slope})", "diff"])
    text = markdown(document(report, []))
    assert "| dataset=digits, device=cpu, activation=leaky_relu(negative_slope=0.3) | 3/3 | sign-flip |" in text


def test_claim_rows_that_differ_in_epochs_name_the_epochs(write) -> None:
    records = [record for epochs in (1, 2) for record in _arm(100 * epochs, range(3), epochs=epochs) + _arm(100 * epochs + 10, range(3), activation="elu", epochs=epochs)]
    claims = build_report(load(write(records))).claims
    assert claims["context"].tolist() == ["dataset=digits, device=cpu, trainer.epochs=1", "dataset=digits, device=cpu, trainer.epochs=2"]
    assert (claims[["n_choice", "n_baseline"]] == 3).all().all()


def test_arms_are_paired_only_where_their_shared_hyperparameters_agree(write) -> None:
    """Max and mixed pooling both run at two kernel sizes: mixed(kernel 2) is never held against max(kernel 3)."""
    records = [
        record
        for k, (pooling, size) in enumerate((p, s) for p in ("max", "mixed_random") for s in (2, 3))
        for record in _arm(10 * k, range(3), pooling=pooling, hyperparameters={"pooling": {"kernel_size": size}})
    ]
    claims = build_report(load(write(records))).claims
    better = claims[claims["claim"] == "Mixed pooling does a little better than max pooling."]
    assert better["context"].tolist() == ["dataset=digits, device=cpu, pooling=mixed_random(kernel_size=2) vs max(kernel_size=2)", "dataset=digits, device=cpu, pooling=mixed_random(kernel_size=3) vs max(kernel_size=3)"]


def test_claims_hold_to_their_task_when_by_leaves_the_task_out(survey) -> None:
    """A claim is about one task: --by without task still finds its arms (it raised KeyError: 'task')."""
    report = build_report(survey.frame, keys=["dataset", "device", "activation", "pooling", "loss"])
    assert set(report.claims["claim"]) == {claim.sentence for claim in CLAIMS}
