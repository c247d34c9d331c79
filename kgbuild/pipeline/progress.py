"""Progress display: one live counter per pipeline stage, on stderr.

Streaming means the total is unknown until the end, so each stage shows a count
and a rate rather than a percentage. The display is off when stderr is not a
terminal (CI logs, pipes) unless asked for, and always off when ``enabled=False``.
"""

from __future__ import annotations

import sys
from types import TracebackType

__all__ = ["StageProgress"]

#: stage -> (label shown, unit counted)
STAGES = {
    "load": ("load", "documents"),
    "extract": ("extract", "chunks"),
    "write": ("write", "documents"),
}


class StageProgress:
    """Counters for the load, extract and write stages; a no-op when disabled.

    >>> with StageProgress(enabled=False) as progress:
    ...     progress.advance("load")
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> StageProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<8}"),
                TextColumn("{task.completed:>8} {task.fields[unit]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            for stage, (label, unit) in STAGES.items():
                self._tasks[stage] = self._progress.add_task(label, total=None, unit=unit, rate="")
        return self

    def advance(self, stage: str, amount: int = 1) -> None:
        """Count ``amount`` more items done in ``stage``."""
        if self._progress is None or amount <= 0:
            return
        task_id = self._tasks[stage]
        self._progress.advance(task_id, amount)
        task = self._progress.tasks[task_id]
        if task.elapsed:
            self._progress.update(task_id, rate=f"{task.completed / task.elapsed:8.1f}/s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
