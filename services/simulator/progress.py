"""A plain terminal progress bar: redrawn in place on a terminal, a line every tenth otherwise (logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from services.simulator.driver import Progress


class TerminalBar(Progress):
    def __init__(self, label: str = "simulating", stream: TextIO | None = None, width: int = 32) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._tenth = -1
        self._tty = self.stream.isatty()

    def start(self, total: int) -> None:
        self.total, self.done, self.started = max(total, 1), 0, time.monotonic()
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def finish(self) -> None:
        if self.done < self.total or self._tty:
            self.done = self.total
            self._draw(force=True)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def line(self) -> str:
        share = self.done / self.total if self.total else 0.0
        filled = int(share * self.width)
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        bar = "█" * filled + "░" * (self.width - filled)
        return (
            f"{self.label} |{bar}| {share:4.0%}  {self.done}/{self.total} acts  "
            f"{rate:5.1f}/s  {elapsed:4.0f}s elapsed  ~{eta:3.0f}s left"
        )

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._tty:
            if force or now - self._drawn >= 0.1:
                self._drawn = now
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
            return
        tenth = int(10 * self.done / self.total) if self.total else 10
        if force or tenth > self._tenth:
            self._tenth = tenth
            self.stream.write(self.line() + "\n")
            self.stream.flush()
