"""CI runs what the README tells a newcomer to run: its install commands and its test command, as written."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fenced_commands(markdown: str, heading: str) -> list[str]:
    """The lines of the first ```bash block under ``## heading``."""
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no bash block under '## {heading}'"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_ci_runs_the_readme_install_and_test_commands_as_written():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    ci_lines = {line.strip() for line in ci.splitlines()}
    commands = fenced_commands(readme, "Install") + fenced_commands(readme, "Test")
    assert commands == ["python3 -m venv .venv", '.venv/bin/pip install -e ".[test]"', ".venv/bin/python -m pytest"]
    missing = [c for c in commands if c not in ci_lines]
    assert missing == []
