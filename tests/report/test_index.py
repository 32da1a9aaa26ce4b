"""The records index: unchanged files are not parsed again, changed, new, corrupt and deleted ones are seen,
and the frame and the report are the same with it as without it."""

from __future__ import annotations

import filecmp
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from cnnbench.cli import main
from cnnbench.report import index, load, loader, synthetic
from cnnbench.report.index import INDEX_NAME, JSONText, whole

AN_HOUR_AGO = time.time() - 3600


def age(where: Path) -> None:
    """Records (a folder's, or one file) written an hour ago: older than the index's racy window, so they
    can be cached. Setting a time changes a file's change time, so it is parsed again once."""
    for path in where.rglob("*.json") if where.is_dir() else [where]:
        os.utime(path, (AN_HOUR_AGO, AN_HOUR_AGO))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed, in order: a spy on the loader's one way of parsing a file."""
    parsed: list[str] = []
    real = loader.parse_file

    def spy(source: str):
        parsed.append(os.path.basename(source))
        return real(source)

    monkeypatch.setattr(loader, "parse_file", spy)
    return parsed


def indexed(folder: Path | list[Path]) -> loader.Loaded:
    """Read ``folder`` (or folders) through its index and bring the index up to date, as ``cnnbench report`` does."""
    loaded = loader.read_records(folder, index=True)
    loaded.save_indexes()
    return loaded


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame with lists and dicts decoded and missing cells alike (None and NaN are both missing)."""
    return frame.map(whole).astype(object).fillna("<missing>")


def test_a_warm_read_parses_nothing_and_one_changed_file_is_parsed_alone(results: Path, parses: list[str]) -> None:
    age(results)
    indexed(results)
    files = len(list(results.rglob("*.json")))
    assert len(parses) == files and (results / INDEX_NAME).exists()
    parses.clear()
    indexed(results)
    assert parses == ["pytest-benchmark.json"]  # several rows a file: never cached, so always parsed
    changed = sorted((results / "runs").glob("*.json"))[5]
    record = json.loads(changed.read_text())
    record["metrics"]["test"]["accuracy"] = 0.123
    changed.write_text(json.dumps(record))
    age(changed)
    parses.clear()
    frame = indexed(results).frame()
    assert sorted(parses) == sorted([changed.name, "pytest-benchmark.json"])
    assert frame.loc[frame["run_id"] == record["run_id"], "metric.accuracy"].tolist() == [0.123]


def test_the_frame_is_the_same_with_the_index_as_without(results: Path) -> None:
    age(results)
    cold = load(results)
    indexed(results)
    warm = load(results, index=True)
    pd.testing.assert_frame_equal(comparable(cold), comparable(warm), check_dtype=False)
    assert isinstance(warm.loc[0, "config"], dict) and warm.loc[0, "config"] == cold.loc[0, "config"]  # load() decodes
    report_frame = loader.read_records(results, index=True).frame()
    assert isinstance(report_frame.loc[0, "curve"], JSONText)  # the report's frame decodes only what a table needs


def test_a_corrupted_file_is_reported_as_without_the_index(results: Path) -> None:
    age(results)
    indexed(results)
    victim = sorted((results / "runs").glob("*.json"))[3]
    victim.write_bytes(victim.read_bytes()[:100])  # truncated, as a kill during a copy leaves it
    age(victim)
    for _ in range(2):  # the index of the first read must not hide it from the second either
        with_index = indexed(results)
        without = loader.read_records(results)
        assert with_index.skipped == without.skipped and [source for source, _ in without.skipped] == [str(victim)]
        assert "not valid JSON" in with_index.skipped[0][1]
        assert len(with_index.frame()) == len(without.frame())


def test_new_replaced_and_deleted_files_are_seen(results: Path, parses: list[str]) -> None:
    age(results)
    indexed(results)
    runs = sorted((results / "runs").glob("*.json"))
    runs[0].unlink()
    replaced = json.loads(runs[1].read_text())
    assert replaced["seed"] < 10
    os.replace(synthetic.write_all([{**replaced, "seed": 7}], results / "tmp")[0], runs[1])  # same size, same mtime, new inode
    os.utime(runs[1], (AN_HOUR_AGO, AN_HOUR_AGO))
    added = synthetic.write_all([synthetic.run_record(5000)], results)[0]
    parses.clear()
    frame = indexed(results).frame()
    assert set(parses) == {runs[1].name, added.name, "pytest-benchmark.json"}
    assert str(runs[0]) not in set(frame["source"]) and str(added) in set(frame["source"])
    assert frame.loc[frame["run_id"] == replaced["run_id"], "seed"].tolist() == [7]


def test_a_file_written_just_now_is_parsed_again(results: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the racy window a second write could keep size, times and inode: such a file is not cached."""
    age(results)
    monkeypatch.setattr(index, "RACY_NS", 600 * 10**9)  # "just now" however slowly the machine runs the test
    fresh = synthetic.write_all([synthetic.run_record(6000)], results)[0]
    indexed(results)
    parses.clear()
    indexed(results)
    assert fresh.name in parses


def test_an_unreadable_or_foreign_index_is_ignored(results: Path, parses: list[str]) -> None:
    age(results)
    expected = loader.read_records(results).frame()
    (results / INDEX_NAME).write_bytes(b"PAR1 not parquet at all PAR1")
    parses.clear()
    frame = indexed(results).frame()
    assert len(parses) == len(list(results.rglob("*.json"))) and len(frame) == len(expected)
    parses.clear()
    indexed(results)
    assert parses == ["pytest-benchmark.json"]  # rebuilt


def test_the_report_is_byte_identical_with_and_without_the_index(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    age(results)
    argv = ["report", "--results", str(results), "--out"]
    assert main([*argv, str(tmp_path / "plain"), "--no-index"]) == 0
    assert not (results / INDEX_NAME).exists()
    assert main([*argv, str(tmp_path / "cold")]) == 0 and (results / INDEX_NAME).exists()
    assert main([*argv, str(tmp_path / "warm")]) == 0
    capsys.readouterr()
    for name in ("cold", "warm"):
        compared = filecmp.dircmp(tmp_path / "plain", tmp_path / name)
        assert not compared.diff_files and not compared.left_only and not compared.right_only, name
        assert (tmp_path / "plain" / "report.md").read_bytes() == (tmp_path / name / "report.md").read_bytes()


def test_a_folder_that_cannot_take_the_index_is_reported_without_one(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(path: Path, mode: str = "wb"):
        raise PermissionError(13, "Permission denied", str(path))

    age(results)
    monkeypatch.setattr(index, "writing", refuse)  # a read-only folder, whoever runs the test (root may write anyway)
    assert main(["report", "--results", str(results), "--out", str(tmp_path / "report")]) == 0
    assert not (results / INDEX_NAME).exists() and (tmp_path / "report" / "report.md").exists()
    assert "Traceback" not in capsys.readouterr().err


def _rewrite(path: Path, accuracy: float) -> dict:
    """Give the run record at ``path`` a new test accuracy, written an hour ago; the record."""
    record = json.loads(path.read_text())
    record["metrics"]["test"]["accuracy"] = accuracy
    path.write_text(json.dumps(record))
    age(path)
    return record


def _identity(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_ino, found.st_mtime_ns


def test_a_few_changed_files_go_to_a_delta_and_many_rewrite_the_index(results: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    age(results)
    indexed(results)
    written = _identity(results / INDEX_NAME)
    runs = sorted((results / "runs").glob("*.json"))
    record = _rewrite(runs[5], 0.123)
    indexed(results)
    assert _identity(results / INDEX_NAME) == written and (results / index.DELTA_NAME).exists()
    parses.clear()
    frame = indexed(results).frame()
    assert parses == ["pytest-benchmark.json"]  # the changed file's new row came from the delta
    assert frame.loc[frame["run_id"] == record["run_id"], "metric.accuracy"].tolist() == [0.123]
    pd.testing.assert_frame_equal(comparable(load(results)), comparable(load(results, index=True)), check_dtype=False)
    monkeypatch.setattr(index, "COMPACT_SHARE", 0.0)  # the next change passes the share: the index is written whole
    _rewrite(runs[6], 0.456)
    indexed(results)
    assert _identity(results / INDEX_NAME) != written and not (results / index.DELTA_NAME).exists()
    parses.clear()
    assert len(indexed(results).frame()) == len(frame) and parses == ["pytest-benchmark.json"]


def test_a_delta_written_for_another_index_or_corrupt_is_ignored(results: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    age(results)
    indexed(results)
    runs = sorted((results / "runs").glob("*.json"))
    _rewrite(runs[5], 0.123)
    indexed(results)
    old_delta = (results / index.DELTA_NAME).read_bytes()
    monkeypatch.setattr(index, "COMPACT_SHARE", 0.0)
    _rewrite(runs[6], 0.456)
    indexed(results)  # the index written whole holds runs[5] as the old delta does
    expected = comparable(load(results))
    (results / index.DELTA_NAME).write_bytes(old_delta)  # a delta left by a report that lost a race
    pd.testing.assert_frame_equal(expected, comparable(load(results, index=True)), check_dtype=False)  # no row twice
    monkeypatch.setattr(index, "COMPACT_SHARE", 0.1)
    _rewrite(runs[7], 0.789)
    indexed(results)
    (results / index.DELTA_NAME).write_bytes(b"PAR1 torn PAR1")
    parses.clear()
    frame = indexed(results).frame()
    assert sorted(parses) == sorted([runs[7].name, "pytest-benchmark.json"])  # only the delta's row parsed again
    assert frame.loc[frame["source"] == str(runs[7]), "metric.accuracy"].tolist() == [0.789]


def test_a_folder_whose_records_all_went_loses_its_index(results: Path, write) -> None:
    age(results)
    indexed(results)
    for path in results.rglob("*.json"):
        path.unlink()
    loaded = indexed([results, write([synthetic.run_record(7000)])])  # another folder still has a record
    assert len(loaded.frame()) == 1 and not (results / INDEX_NAME).exists()


def test_a_deleted_file_alone_writes_nothing(results: Path, parses: list[str]) -> None:
    """Its row stays where it is, matching no file, until the next rewrite: no write for a row gone."""
    age(results)
    indexed(results)
    runs = sorted((results / "runs").glob("*.json"))
    _rewrite(runs[5], 0.123)
    indexed(results)  # a delta beside the index
    written = [_identity(results / name) for name in (INDEX_NAME, index.DELTA_NAME)]
    runs[2].unlink()
    assert str(runs[2]) not in set(indexed(results).frame()["source"])
    assert [_identity(results / name) for name in (INDEX_NAME, index.DELTA_NAME)] == written
    parses.clear()
    assert str(runs[2]) not in set(indexed(results).frame()["source"]) and parses == ["pytest-benchmark.json"]
