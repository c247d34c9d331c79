"""Progress counters: shown on request, off when disabled, never in the way of a run."""

from __future__ import annotations

import io

from rich.console import Console

from kgbuild.pipeline.progress import StageProgress


def test_enabled_progress_counts_each_stage(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(
        "rich.console.Console", lambda **kw: Console(file=buffer, force_terminal=True, width=100)
    )
    with StageProgress(enabled=True) as progress:
        progress.advance("load", 3)
        progress.advance("extract", 7)
        progress.advance("write", 2)
        tasks = {t.description: t.completed for t in progress._progress.tasks}
    assert tasks == {"load": 3, "extract": 7, "write": 2}
    assert "documents" in buffer.getvalue() and "chunks" in buffer.getvalue()


def test_disabled_progress_prints_nothing(capsys):
    with StageProgress(enabled=False) as progress:
        progress.advance("load", 5)
    assert capsys.readouterr() == ("", "")
    # Not a terminal (as under pytest): off by default.
    assert StageProgress().enabled is False
