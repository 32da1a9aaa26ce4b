"""The HTML page as a person sees it: rendered by headless Chromium (Debian's `chromium` package)."""

from __future__ import annotations

import shutil
import subprocess
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


@pytest.fixture(scope="module")
def page(shared_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    report = build_report(load(shared_results))
    write_report(report, figures(report), out, ["html"])
    return out / "report.html"


def test_screenshot_shows_the_tables_and_the_plots(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,6000", page.as_uri())
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (6000, 1200)
    assert pixels.std() > 0.05  # not a blank page
    dark_rows = (pixels.mean(axis=2) < 0.5).any(axis=1)
    assert dark_rows[:300].any() and dark_rows.mean() > 0.3  # text from the top down, on a light background
    coloured_rows = np.flatnonzero((pixels.max(axis=2) - pixels.min(axis=2) > 0.3).any(axis=1))
    assert len(coloured_rows) > 1000  # the plots' markers and lines: the only colour on the page


def test_dom_has_the_leaderboard_and_plots(page: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert '<table class="leaderboard">' in dom and "<th>rank</th>" in dom
    assert dom.count('<table class="leaderboard">') == 2  # one section per device
    assert dom.count('<img alt="') == 7 and 'src="data:image/png;base64,' in dom
