"""What makes the page shareable: sweeps apart, trials linked to records, short numbers, Optuna's figures."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest

from cnnbench.report import load, synthetic
from cnnbench.report.build import build_report
from cnnbench.report.plots import _families, figures
from cnnbench.report.render import short_numbers, write_report
from cnnbench.report.stats import fold
from cnnbench.report.study_figures import study_figures
from cnnbench.report.studies import optuna_study


class Links(HTMLParser):
    """Each link's target and text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs)["href"]

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None


def sweep(name: str, trials: int, *, lr_digits: bool = True, pruned: tuple[int, ...] = ()) -> list[dict]:
    """``synthetic.study_trials`` with 17-digit learning rates, and some trials pruned after epoch 2."""
    records = synthetic.study_trials(name, trials=trials)
    for record in records:
        if lr_digits:
            long = record["study"]["params"]["optimizer.lr"] * (1 + 1e-9) + 1e-17
            record["config"]["optimizer"]["lr"] = record["study"]["params"]["optimizer.lr"] = long
        if record["study"]["trial"] in pruned:
            record["status"] = "pruned"
            record["curve"] = record["curve"][:2]
    return records


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, object]:
    folder = tmp_path_factory.mktemp("shared")
    records = synthetic.grid(activations=("relu", "elu"), poolings=("max", "avg"), devices=("cpu",)) + sweep("lam-lr", 12, pruned=(4, 7))
    synthetic.write_all(records, folder / "results")
    report = build_report(load(folder / "results"))
    write_report(report, figures, folder / "report", ["html"])
    return folder / "report" / "report.html", (folder / "report" / "report.html").read_text(), report


def test_sweep_trials_stay_out_of_the_leaderboards_and_ablations(page) -> None:
    _, text, report = page
    assert report.runs["study.name"].isna().all()
    assert len(report.leaderboard) == 4  # the 2 x 2 grid; the 12 trials are not 12 more "configurations"
    sweeps = text.index("<h2>Sweeps</h2>")
    assert text.index("<h2>Leaderboard</h2>") < text.index("<h2>Ablation</h2>") < sweeps
    assert "trial-" not in text[:sweeps] and "lam-lr" not in text[:sweeps]


def test_each_run_and_trial_links_to_its_record_file(page) -> None:
    path, text, report = page
    parser = Links()
    parser.feed(text)
    assert len(parser.links) == 12 + len(report.runs) == 12 + 12  # the trials, then the grid's runs
    assert {run_id for _, run_id in parser.links[12:]} == set(report.runs["run_id"])
    for href, run_id in parser.links:
        target = (path.parent / href).resolve()
        assert target.is_file() and f'"run_id": "{run_id}"' in target.read_text()


def test_hyperparameters_show_four_significant_digits(page) -> None:
    _, text, report = page
    lr = report.studies[0].trials["optimizer.lr"].iloc[0]
    assert len(repr(lr)) > 15
    assert f">{lr:.4g}<" in text and repr(lr) not in text
    assert not re.search(r"\d\.\d{9,}", text.split("<script>")[0].split("</style>")[1])  # no long number anywhere in the page's text


@pytest.mark.parametrize(
    ("given", "shown"),
    [("0.30000000000000004", "0.3"), ("mixed(lam=0.123456789)", "mixed(lam=0.1235)"), ("2.13.0", "2.13.0"), ("20250509T194000000000Z-bench-1", "20250509T194000000000Z-bench-1")],
)
def test_short_numbers_rounds_numbers_and_leaves_names(given: str, shown: str) -> None:
    assert short_numbers(given) == shown


def test_pruned_trials_enter_the_rebuilt_study_at_the_value_they_reached(page) -> None:
    _, _, report = page
    (study,) = report.studies
    rebuilt = optuna_study(study)
    states = {t.number: t.state for t in rebuilt.trials}
    assert [n for n, s in states.items() if s == optuna.trial.TrialState.PRUNED] == [4, 7]
    pruned = study.trials.set_index("trial").loc[4]
    assert pruned["state"] == "pruned" and pruned["value"] != pruned["value"]  # no final value...
    assert list(rebuilt.trials[4].intermediate_values.values()) == [pytest.approx(pruned["reached"])]  # ...but where it stopped
    assert rebuilt.trials[4].params.keys() == {"optimizer.lr", "pooling.lam"}


def test_two_parameters_get_every_figure_and_one_parameter_no_importance(page, write) -> None:
    _, _, report = page
    names = [plot.name.rsplit("-", 1)[1] for plot in study_figures(report.studies[0], 1)]
    assert names == ["history", "slice", "contour", "parallel", "importance"]
    assert list(report.studies[0].importances) == ["pooling.lam", "optimizer.lr"]
    records = sweep("lam-only", 8, lr_digits=False)
    for record in records:
        record["config"]["optimizer"]["lr"] = record["study"]["params"]["optimizer.lr"] = 0.001
    (single,) = build_report(load(write(records))).studies
    assert single.params == ["pooling.lam"] and single.importances == {}  # one parameter would always score 1.0
    assert [plot.name.rsplit("-", 1)[1] for plot in study_figures(single, 1)] == ["history", "slice"]


def test_by_choice_figures_never_pool_across_epochs_or_other_components(write) -> None:
    records = [synthetic.run_record(i, activation=a, pooling=p, seed=s, epochs=e) for i, (a, p, s, e) in enumerate(
        (a, p, s, e) for a in ("relu", "elu") for p in ("max", "avg") for s in range(3) for e in (3, 5))]  # fmt: skip
    report = build_report(load(write(records)))
    board = report.leaderboard.assign(choice=fold(report.leaderboard, ["activation"])["activation"].to_numpy())
    context = [k for k in report.keys if k != "activation" and not k.startswith("activation.") and k in board]
    families, total = _families(board, "activation", context)
    assert len(families) == total == 4  # pooling x epochs, each with both activations
    for rows in families:
        assert rows["trainer.epochs"].nunique() == 1 and rows["pooling"].nunique() == 1
        assert sorted(rows["choice"]) == ["elu", "relu"]
