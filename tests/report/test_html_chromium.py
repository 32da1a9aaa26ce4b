"""The HTML page as a person sees it: rendered by headless Chromium (Debian's `chromium` package).

Set ``CNNBENCH_SCREENSHOTS=DIR`` to keep the screenshots, to look at them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from cnnbench.report import load
from cnnbench.report.build import build_report
from cnnbench.report.plots import figures
from cnnbench.report.render import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package: chromium)")


def chromium(profile: Path, *args: str) -> str:
    """Run headless Chromium offline with a throwaway profile; return its standard output."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]
    done = subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


class Tables(HTMLParser):
    """Each table by id: its header texts and its rows (cell texts, and whether the row is hidden)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list]] = {}
        self._table: dict[str, list] | None = None
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._hidden = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(found.get("id") or "", {"header": [], "rows": [], "hidden": [], "class": found.get("class") or ""})
        elif tag == "tr":
            self._row, self._hidden = [], "hidden" in found
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._table is not None and self._row:
            if not self._table["header"]:
                self._table["header"] = self._row
            else:
                self._table["rows"].append(self._row)
                self._table["hidden"].append(self._hidden)
        elif tag == "table":
            self._table = None


def tables(dom: str) -> dict[str, dict[str, list]]:
    parser = Tables()
    parser.feed(dom)
    return parser.tables


def number(cell: str) -> float:
    return float(cell.lstrip("[").split(",")[0])


@pytest.fixture(scope="module")
def page(shared_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    report = build_report(load(shared_results))
    write_report(report, figures, out, ["html"])
    return out / "report.html"


def _keep(shot: Path) -> None:
    folder = os.environ.get("CNNBENCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)


@pytest.mark.parametrize("width", [1280, 820])
def test_screenshot_shows_the_tables_and_the_plots(page: Path, tmp_path: Path, width: int) -> None:
    shot = tmp_path / f"report-{width}.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},7000", "--hide-scrollbars", page.as_uri())
    _keep(shot)
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (7000, width)
    assert pixels.std() > 0.05  # not a blank page
    dark_rows = (pixels.mean(axis=2) < 0.5).any(axis=1)
    assert dark_rows[:300].any() and dark_rows.mean() > 0.3  # text from the top down, on a light background
    coloured_rows = np.flatnonzero((pixels.max(axis=2) - pixels.min(axis=2) > 0.3).any(axis=1))
    assert len(coloured_rows) > 1000  # the plots' markers and lines: the only colour on the page
    assert (pixels[:, -3:].mean(axis=2) > 0.9).all()  # nothing runs off the right edge: wide tables scroll in their box


def test_a_header_click_sorts_and_a_second_click_reverses(page: Path, tmp_path: Path) -> None:
    found = tables(page.read_text())
    board = next(name for name, table in found.items() if "leaderboard" in table["class"].split())
    before = found[board]
    column = next(i for i, name in enumerate(before["header"]) if "mean" in name)
    means = [number(row[column]) for row in before["rows"]]
    assert means == sorted(means, reverse=True)  # as written: by rank, best first
    once = tables(chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#sort={board}:{column}"))[board]
    assert [number(row[column]) for row in once["rows"]] == sorted(means)
    twice = tables(chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#sort={board}:{column}:desc"))[board]
    assert [number(row[column]) for row in twice["rows"]] == sorted(means, reverse=True)
    text = next(i for i, name in enumerate(before["header"]) if name.startswith("activation"))
    by_name = tables(chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#sort={board}:{text}"))[board]
    assert [row[text] for row in by_name["rows"]] == sorted(row[text] for row in before["rows"])
    assert sorted(map(tuple, by_name["rows"])) == sorted(map(tuple, before["rows"]))  # rows move whole


def test_the_filter_hides_the_rows_without_the_text(page: Path, tmp_path: Path) -> None:
    found = tables(page.read_text())
    trials = next(name for name, table in found.items() if "trial" in table["header"] and "record" in table["header"])
    wanted = found[trials]["rows"][3][-1]  # one trial's run id
    dom = chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#filter={trials}:{wanted}")
    shown = tables(dom)[trials]
    assert [row[-1] for row, hidden in zip(shown["rows"], shown["hidden"]) if not hidden] == [wanted]
    assert f"1 of {len(shown['rows'])} rows" in dom
