"""Record fields reach report.md as text: no live link, image, emphasis or table syntax from a record."""

from __future__ import annotations

import re
from pathlib import Path

from cnnbench.cli import main
from cnnbench.report import synthetic

HOSTILE = {
    "dataset": "![pixel](http://tracker.example/p.png)",
    "activation": "[click](javascript:alert(1))",
    "pooling": "*bold* _em_ `code` a|b <script>x</script>",
}


def test_hostile_record_fields_are_escaped_in_markdown(tmp_path: Path) -> None:
    records = synthetic.grid(activations=(HOSTILE["activation"], "relu"), poolings=(HOSTILE["pooling"], "max"), seeds=range(2), devices=("cpu",), datasets=(HOSTILE["dataset"],))
    synthetic.write_all(records, tmp_path / "results")
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out"), "--format", "markdown"]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "tracker.example" in text and "javascript" in text  # the fields are shown ...
    assert not re.search(r"(?<!\\)\]\(", text.replace("](plots/", ""))  # ... but no link or image opens from them
    assert "<script>" not in text and r"\*bold\*" in text and r"\_em\_" in text and r"\`code\`" in text
    lines = text.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("|") and "script" in line]
    columns = re.compile(r"(?<!\\)\|")
    for i in rows:  # an escaped | keeps a row's columns: as many cell borders as its table's header
        header = next(lines[j - 1] for j in range(i, 0, -1) if lines[j].startswith("|---"))
        assert len(columns.findall(lines[i])) == len(columns.findall(header)), lines[i]
    assert rows
