"""README.md as a newcomer meets it: every Python block runs as written, each on its own in
a fresh interpreter with nothing supplied, and every link resolves."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) <= 350
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_python_block_runs_as_written(index, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(BLOCKS[index])
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, (
        f"README python block {index}:\n{BLOCKS[index]}\n" + (result.stderr[-3000:])
    )


@pytest.mark.parametrize("page", ["README.md", "docs/results.md", "docs/performance.md"])
def test_every_link_resolves(page):
    text = (ROOT / page).read_text()
    headings = {_anchor(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if path:
            assert ((ROOT / page).parent / path).exists(), f"{page}: {target}"
        elif anchor:
            assert anchor in headings, f"{page}: {target}"
