"""Progress lines off a terminal: rate-limited, with an ETA, and a final line."""

from __future__ import annotations

import io

from tf_graphvae.progress import Progress


def test_lines_are_rate_limited_and_end_with_a_final_line():
    stream = io.StringIO()
    progress = Progress(100, "log-likelihood", stream=stream, interval=3600)
    for done in range(10, 101, 10):
        progress.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("log-likelihood: 100/100 images")
    assert "done in" in lines[0]


def test_every_update_past_the_interval_gives_a_line_with_an_eta():
    stream = io.StringIO()
    progress = Progress(4, "edge values", unit="batches", stream=stream, interval=0)
    for done in range(1, 5):
        progress.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and all("/4 batches (" in line for line in lines)
    assert "ETA" in lines[0] and "done in" in lines[-1]


def test_disabled_is_silent():
    stream = io.StringIO()
    progress = Progress(3, "x", enabled=False, stream=stream, interval=0)
    progress.update(3)
    assert stream.getvalue() == ""
