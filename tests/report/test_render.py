"""The outputs: deterministic Markdown and CSV, a self-contained and escaped HTML page, Parquet, PNG plots."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from cnnbench.report import load, synthetic
from cnnbench.report import render as render_module
from cnnbench.report.build import build_report
from cnnbench.report.plots import figures
from cnnbench.report.render import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def render(folder: Path, out: Path, formats=("markdown", "html", "csv", "parquet")) -> dict[str, Path]:
    report = build_report(load(folder))
    return {path.name: path for path in write_report(report, figures, out, formats)}


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def rendered(shared_results: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every output of the standard results, rendered once for the tests that only read them."""
    return render(shared_results, tmp_path_factory.mktemp("report"))


def test_same_records_give_byte_identical_markdown_and_csv(shared_results: Path, rendered: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy"  # the same records, written in the opposite order into another folder
    records = [p.read_text() for p in sorted((shared_results / "runs").glob("*.json"))]
    for index, text in enumerate(reversed(records)):
        (copy / "runs").mkdir(parents=True, exist_ok=True)
        (copy / "runs" / f"{index:04d}.json").write_text(text)
    synthetic.write_pytest_benchmark(copy, "other-name.json")
    second = render(copy, tmp_path / "b", ["markdown", "csv"])
    for name in ("report.md", "leaderboard.csv", "ablation.csv", "bench.csv", "pytest_benchmark.csv", "trials.csv"):
        assert rendered[name].read_bytes() == second[name].read_bytes(), name


def test_markdown_has_every_section(rendered: dict[str, Path]) -> None:
    text = rendered["report.md"].read_text()
    for heading in ("## Leaderboard", "### classification / digits / cpu: accuracy (higher is better, ranked by validation)", "## Ablation", "## Plots", "## Sweeps", "## Component timings", "## Provenance"):
        assert f"\n{heading}\n" in text, heading
    assert "| 1 | " in text and "| sign-flip |" in text and "Holm (1979)" in text
    assert "| Devices | cpu (Intel Xeon (2 cores)) (" in text and "NVIDIA H100" in text
    assert "| torch | 2.13.0 (" in text and "| Git commits | 20a06e600000 (" in text
    assert "| Dates | 2025-03-01T09:00:00+00:00 to " in text
    for name in ("by-activation", "by-pooling", "pareto", "curves-1", "curves-2", "study-1-history", "study-1-importance"):
        assert f"(plots/{name}.png)" in text
        assert (rendered["report.md"].parent / "plots" / f"{name}.png").read_bytes().startswith(PNG_MAGIC)


def test_html_is_self_contained(rendered: dict[str, Path]) -> None:
    page = rendered["report.html"].read_text()
    parser = Elements()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("table") >= 6 and "style" in tags and "link" not in tags
    assert tags.count("script") == 1 and all("src" not in attrs for tag, attrs in parser.tags if tag == "script")  # inline only
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == 10
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_every_string_is_escaped(tmp_path: Path, write) -> None:
    evil = "<script>alert(1)</script>"
    records = [synthetic.run_record(i, activation=activation, seed=i % 3) for i, activation in enumerate(["relu"] * 3 + [evil] * 3)]
    records[0]["device_name"] = '<img src=x onerror="alert(2)">'
    records += synthetic.study_trials('<b onmouseover="x">$\\notacommand$', trials=4)  # not mathtext either
    paths = render(write(records), tmp_path / "out", ["markdown", "html"])
    page = paths["report.html"].read_text()
    parser = Elements()
    parser.feed(page)
    page_tags = {"html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "h3", "p", "div", "input", "span", "a", "b"}
    assert {tag for tag, _ in parser.tags} <= page_tags | {"table", "thead", "tbody", "tr", "th", "td", "figure", "img", "figcaption"}
    assert [tag for tag, _ in parser.tags].count("script") == 1  # the page's own sorting script, nothing from a record
    assert all(not name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and evil not in page
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    markdown = paths["report.md"].read_text()
    assert evil not in markdown and "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown


def test_csv_and_parquet_hold_the_tables(rendered: dict[str, Path]) -> None:
    paths = rendered
    board = pd.read_csv(paths["leaderboard.csv"])
    assert {"task", "dataset", "device", "activation", "pooling", "n", "mean", "std", "ci_low", "ci_high", "rank", "versus_leader", "validation", "gap", "config_id"} <= set(board)
    assert len(board) == 3 * 2 * 2  # the grid's configurations per device; the sweep's trials are in trials.csv
    assert len(pd.read_csv(paths["trials.csv"])) == 10
    parquet = pd.read_parquet(paths["leaderboard.parquet"])
    assert list(parquet.columns) == list(board.columns) and parquet["activation"].tolist() == board["activation"].tolist()
    assert parquet["mean"].to_numpy() == pytest.approx(board["mean"].to_numpy(), rel=1e-9)
    records = pd.read_parquet(paths["records.parquet"])
    assert len(records) == 36 + 10 + 6 + 2
    assert records["curve"].dropna().iloc[0].startswith('[{"epoch"')  # lists are stored as JSON text


def test_the_page_lists_the_first_runs_and_runs_csv_all_of_them(shared_results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cnnbench.report import render as render_module

    monkeypatch.setattr(render_module, "RUNS_SHOWN", 5)
    paths = render(shared_results, tmp_path / "out", ["markdown", "html", "csv"])
    runs = pd.read_csv(paths["runs.csv"])
    assert len(runs) == 36 and runs["run_id"].is_unique  # every scored run, none of the sweep's trials
    assert list(runs.columns[:4]) == ["run_id", "task", "dataset", "device"]
    markdown = paths["report.md"].read_text()
    listed = markdown.split("\n## Runs\n", 1)[1].split("\n## ", 1)[0]
    assert "The first 5 of the 36 runs counted above" in listed and "runs.csv" in listed
    assert [line.split(" | ")[0].lstrip("| ") for line in listed.splitlines() if line.startswith("| 2")] == runs["run_id"].head(5).tolist()
    page = paths["report.html"].read_text()
    assert all(f">{run_id}</a>" in page for run_id in runs["run_id"].head(5)) and f">{runs['run_id'].iloc[5]}</a>" not in page


def test_a_table_that_fails_to_write_fails_the_report_and_leaves_the_last_one(shared_results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    render(shared_results, out)
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    monkeypatch.setattr(render_module, "_csv", lambda frame, path: 1 / 0)  # in the worker that writes the tables, too
    with pytest.raises(ZeroDivisionError):
        render(shared_results, out)
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before
    assert [path.name for path in tmp_path.iterdir()] == ["report"]  # no staging folder left behind


def _sweeps(markdown: str) -> str:
    return markdown.split("\n## Sweeps\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("schema", [2, 1])
def test_the_sweep_reports_the_selected_trials_test_value_once(write, tmp_path: Path, schema: int) -> None:
    records = [
        synthetic.run_record(seed, seed=seed, accuracy=test, validation=validation, study={"name": "s", "trial": 0}, schema=schema)
        for seed, (validation, test) in enumerate(((0.95, 0.90), (0.93, 0.92)))
    ]
    records.append(synthetic.run_record(5, accuracy=0.97, validation=0.80, study={"name": "s", "trial": 1}, schema=schema))
    paths = render(write(records), tmp_path / "out", ["markdown", "csv"])
    sweeps = _sweeps(paths["report.md"].read_text())
    trials = pd.read_csv(paths["trials.csv"])
    if schema == 2:
        assert "Best on validation: 0.9400 at trial 0" in sweeps
        assert "held-out estimate of the selected trial: test accuracy 0.9100 (mean over its 2 seeds)" in sweeps
        assert trials["value"].tolist() == pytest.approx([0.94, 0.80]) and trials["test_value"].tolist() == pytest.approx([0.91, 0.97])
        assert "0.9700" not in sweeps  # the test value of a trial validation did not select is not shown
    else:
        assert "objective accuracy on test" in sweeps and "Best on test: 0.9700 at trial 1" in sweeps and "no held-out estimate" in sweeps


@pytest.mark.parametrize(
    "given",
    ["2026-12-07T17:23:05.026221+00:00", "17:22:30.671234", "2026-12-07T17:23:05.026221+00:00 to 2026-12-07T17:23:06.968000+00:00"],
)
def test_short_numbers_leaves_dates_and_times_as_they_are(given: str) -> None:
    assert render_module.short_numbers(given) == given


def test_short_numbers_still_shortens_a_long_number_beside_a_time() -> None:
    assert render_module.short_numbers("lr 0.912345678 at 17:22:30.671234") == "lr 0.9123 at 17:22:30.671234"
