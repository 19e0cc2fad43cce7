"""Module-level task functions for the fan-out tests (importable by pool and dask workers)."""
from __future__ import annotations

import os
import time
from pathlib import Path


def square_slowly(x: int) -> int:
    """Later items often finish first: results must still come back in order."""
    time.sleep(0.02 * ((7 - x) % 4))
    return x * x


def die_once(arg: tuple[str, int]) -> int:
    """Kills its worker process the first time it runs item 2 (a marker file remembers)."""
    folder, i = arg
    marker = Path(folder) / "died"
    if i == 2 and not marker.exists():
        marker.touch()
        os._exit(1)
    return i


def always_die(folder: str) -> int:
    """Records the attempt, then kills its worker process, every time."""
    with open(Path(folder) / "attempts", "a") as f:
        f.write(f"{os.getpid()}\n")
    os._exit(1)
