"""Summaries of py-spy's collapsed stacks (``--format raw``): where the samples went, inclusive and self.

python -m bench.profiles <file> [--top 30] [--match services.tracker]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _label(frame: str) -> str:
    """``function (path/to/module.py:line)`` → ``module.py:function``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{file}:{match['function']}"


def summarise(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive samples per frame, self samples per frame)."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_label(f) for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return total, inclusive, own


def report(path: Path, top: int = 30, match: str = "") -> str:
    total, inclusive, own = summarise(path)
    lines = [f"{path.name}: {total} samples"]
    lines.append("  inclusive:")
    for frame, count in inclusive.most_common():
        if match and match not in frame:
            continue
        lines.append(f"    {100 * count / total:5.1f}%  {frame}")
        if len(lines) > top + 2:
            break
    lines.append("  self:")
    for frame, count in own.most_common(top):
        lines.append(f"    {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    print(report(args.file, args.top, args.match))


if __name__ == "__main__":
    main()
