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


def chunk_array_is_mmapped(_: object = None) -> bool:
    """Whether allocating a 4 MiB array (a 1024 px float32 chunk band) here, after one such array
    was allocated and freed (as chunk after chunk does), gets fresh mmap'ed pages from glibc (slow:
    page faults on every use) rather than heap memory."""
    import ctypes

    import numpy as np

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")]

    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = Mallinfo2
    previous = np.ones(1 << 20, np.float32)  # the previous chunk's array, freed
    del previous
    before = mallinfo2().hblkhd
    a = np.ones(1 << 20, np.float32)
    mmapped = mallinfo2().hblkhd - before >= a.nbytes
    del a
    return mmapped


def sleep_and_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def where_and_what(part) -> tuple[int, int, int, float]:
    """A finishing step for region parts: the process it ran in, the chunk's place and its sum."""
    (r,) = part.rasters
    return os.getpid(), part.col_off, part.row_off, float(r.data[0][r.mask].astype("float64").sum())
