"""Progress reporting for long waits (SFT, rollouts, PPO updates, evaluation) that also reads well in a log file.

On an interactive terminal `progress` shows a rich bar with done/total, elapsed time and ETA. When the output is
not a terminal (a log file, a pipe, CI) a live bar cannot redraw in place, so it prints one plain line at most
every `LOG_EVERY_S` seconds (and the last one), each with the ETA -- never one line per refresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LOG_EVERY_S", "ProgressBar", "progress"]

LOG_EVERY_S = 30.0


class ProgressBar(Protocol):
    """What the training code calls: move to `completed` (or by `advance`) and show `info` beside the bar."""

    def update(self, completed: int | None = None, advance: int = 0, info: str = "") -> None: ...


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _RichBar:
    def __init__(self, bar: Progress, description: str, total: int, completed: int) -> None:
        self._bar = bar
        self._task = bar.add_task(description, total=total, completed=completed, info="")

    def update(self, completed: int | None = None, advance: int = 0, info: str = "") -> None:
        if completed is not None:
            self._bar.update(self._task, completed=completed, info=info)
        else:
            self._bar.update(self._task, advance=advance, info=info)


class _LogBar:
    """Plain lines for non-terminal output, throttled to one per `every` seconds."""

    def __init__(self, console: Console, description: str, total: int, completed: int, every: float) -> None:
        self.console, self.description, self.total, self.every = console, description, total, every
        self.done = self._start_done = completed
        self._start = self._last = time.monotonic()
        self._info = ""

    def update(self, completed: int | None = None, advance: int = 0, info: str = "") -> None:
        self.done = completed if completed is not None else self.done + advance
        self._info = info or self._info
        now = time.monotonic()
        if now - self._last >= self.every and self.done < self.total:
            self._last = now
            self.line()

    def line(self) -> None:
        elapsed = time.monotonic() - self._start
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        eta = _clock((self.total - self.done) / rate) if rate > 0 else "?"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        self.console.print(f"{self.description}: {self.done}/{self.total} ({pct:.0f}%) elapsed {_clock(elapsed)} "
                           f"eta {eta} {self._info}".rstrip(), markup=False, highlight=False)


@contextmanager
def progress(console: Console | None, description: str, total: int, completed: int = 0,
             every: float = LOG_EVERY_S) -> Iterator[ProgressBar]:
    """A progress bar on `console` for `total` units (a no-op when `console` is None or quiet)."""
    if console is None or console.quiet:
        yield _Null()
    elif console.is_interactive:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
        with Progress(*columns, console=console, transient=False) as bar:
            yield _RichBar(bar, description, total, completed)
    else:
        log = _LogBar(console, description, total, completed, every)
        yield log
        log.line()


class _Null:
    def update(self, completed: int | None = None, advance: int = 0, info: str = "") -> None:
        pass
