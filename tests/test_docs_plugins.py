"""docs/plugins.md quotes real files: each code block that names its file is a verbatim excerpt of it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"(?:<!-- from: (?P<path>\S+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S)


def blocks() -> list[tuple[str | None, str, str]]:
    """(file named above the block or None, language, body) of every fenced block of the page."""
    return [(m["path"], m["lang"], m["body"]) for m in BLOCK.finditer(DOC.read_text())]


def is_excerpt(body: str, text: str) -> bool:
    """Whether ``body``'s lines are consecutive lines of ``text``, all shifted by one indentation."""
    lines, wanted = text.splitlines(), body.splitlines()
    for start in range(len(lines) - len(wanted) + 1):
        first = lines[start]
        indent = first[: len(first) - len(first.lstrip())]
        if all((line == indent + want) if want else not line.strip()
               for line, want in zip(lines[start:], wanted)):
            return True
    return False


def test_every_code_block_names_the_file_it_quotes():
    unnamed = [body.splitlines()[0] for path, lang, body in blocks() if lang in ("python", "toml") and path is None]
    assert unnamed == []  # code a reader may copy must come from a tested file
    assert len([b for b in blocks() if b[0]]) >= 10


@pytest.mark.parametrize("path, body", [(p, b) for p, _, b in blocks() if p], ids=lambda v: str(v)[:40])
def test_each_quoted_block_is_verbatim_in_its_file(path, body):
    assert is_excerpt(body, (ROOT / path).read_text()), f"docs/plugins.md quotes {path}, which no longer says that"


def test_the_example_plugin_has_one_component_of_every_kind():
    from sslbench.specs import SPEC_TYPES
    from sslbench.testing import make_registry

    pytest.importorskip("sslbench_example", reason="the example plugin is not installed (.ci/run installs it)")
    registry = make_registry(modules=["sslbench_example.hooks"])
    assert {spec.kind for spec in registry} == set(SPEC_TYPES)
    for spec in registry:
        assert f"`{spec.name}`" in DOC.read_text()


def test_is_excerpt_catches_a_changed_line():
    text = "def f():\n    a = 1\n\n    return a\n"
    assert is_excerpt("a = 1\n\nreturn a", text)
    assert not is_excerpt("a = 2\n\nreturn a", text)
