"""docs/api.md is what `scripts/api_reference.py` writes from today's docstrings."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_the_api_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_reference.py"), "--check"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    page = (ROOT / "docs" / "api.md").read_text()
    assert "`anneal_after_hold`" in page and "### `tgv.GraphVAE`" in page
