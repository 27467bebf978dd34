"""What every benchmark script needs: timed child processes, aligned tables.

The scripts are run as ``python benchmarks/NAME.py`` (this directory is
then on ``sys.path``) or loaded by path by the smoke tests; each puts this
directory on ``sys.path`` before importing this module.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


__all__ = ["Timed", "align", "run_timed", "work_directory"]


@dataclass(frozen=True, slots=True)
class Timed:
    """A finished command: wall and CPU seconds, when it started, its output."""

    wall: float
    cpu: float  # user + system, of the command and what it waited for
    launched: float  # epoch seconds
    stdout: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, *, what: str = ""
) -> Timed:
    """Run a command to the end, timed from outside.

    :raises RuntimeError: it exited non-zero; the message ends with its stderr.
    """
    cpu = _children_cpu()
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(
        command,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        name = what or f"{' '.join(command[:5])} ..."
        raise RuntimeError(f"{name} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return Timed(wall, _children_cpu() - cpu, launched, done.stdout)


def align(table: Sequence[Sequence[str]], left: set[int]) -> list[str]:
    """Rows of cells as aligned columns, a rule under the first (the header).

    :param left: indexes of the columns aligned left; the others align right.
    """
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for index, row in enumerate(table):
        cells = [
            cell.ljust(widths[i]) if i in left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


@contextlib.contextmanager
def work_directory(keep: Path | None, prefix: str) -> Iterator[Path]:
    """Where a benchmark writes: ``keep`` (made, kept after), else a temporary
    directory removed afterwards.

    :raises ValueError: ``keep`` exists and is not empty.
    """
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=prefix) as work:
            yield Path(work)
        return
    if keep.exists() and any(keep.iterdir()):
        raise ValueError(f"{keep} is not empty")
    keep.mkdir(parents=True, exist_ok=True)
    yield keep.resolve()
