"""The plugin documentation is part of the contract: every kind and hook is documented, every example runs."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pluggy
import pytest

from cnnbench import hookspecs
from cnnbench.kinds import KINDS

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
TEXT = DOCS.read_text()
ALL_DOCS = "\n".join(path.read_text() for path in sorted(DOCS.parent.glob("*.md")))
EXAMPLES = dict(re.findall(r"<!-- example: (\w+) -->\n```python\n(.*?)```", TEXT, re.S))


def hook_signatures() -> list[str]:
    """``name(arg, ...)`` of every hook spec, as the docs must write it."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    hooks = {name: getattr(manager.hook, name) for name in dir(manager.hook) if name.startswith("cnnbench_")}
    return sorted(f"{name}({', '.join(hook.spec.argnames)})" for name, hook in hooks.items())


@pytest.mark.parametrize("signature", hook_signatures())
def test_every_hook_and_its_arguments_are_documented(signature: str) -> None:
    assert f"`{signature}" in ALL_DOCS, f"{signature} is not documented in docs/"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_is_documented_with_its_hook_and_a_runnable_example(kind: str) -> None:
    row = next((line for line in TEXT.splitlines() if line.startswith(f"| `{KINDS[kind].hook}(register)` | `{kind}` |")), None)
    assert row is not None, f"no row for kind {kind!r} and its hook in the table of {DOCS.name}"
    assert kind in EXAMPLES, f"no <!-- example: {kind} --> block in {DOCS.name}"


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_the_example_runs(kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"cnnbench_docs_example_{kind}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(EXAMPLES[kind], f"{DOCS.name} example {kind}", "exec"), module.__dict__)
