"""Module-level work functions for tests/jobs/ (importable by pool workers).

Signature: work(process_id, request, results_dir, progress) -> results manifest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

Progress = Callable[[int, str], None]


def write_text(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """Writes one file and returns a manifest with a file and an inline value."""
    progress(50, "half way")
    (results_dir / "result.txt").write_text(request["text"])
    return {
        "out": {"file": "result.txt", "mediaType": "text/plain"},
        "meta": {"value": {"process": process_id, "pid": os.getpid()}},
    }


def _parse(value: str) -> int:
    return int(value)


def fail(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """Fails a couple of frames deep, with a multi-line message."""
    (results_dir / "partial.tif").write_bytes(b"half")
    try:
        _parse(request["value"])
    except ValueError as exc:
        raise RuntimeError(f"bad input\n  {exc}") from exc
    return {}


def append_line(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """Records each execution as one line, then lingers to widen race windows."""
    with open(request["log"], "a") as f:
        f.write(f"{os.getpid()}\n")
    time.sleep(request.get("sleep", 0.0))
    return {"ran": {"value": True}}


def slow(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """Runs ~steps*0.05 s reporting progress; touches request['started'] when it begins."""
    Path(request["started"]).touch()
    steps = request.get("steps", 200)
    for i in range(steps):
        progress(100 * i // steps, f"step {i}")
        (results_dir / "steps.txt").write_text(str(i))
        time.sleep(0.05)
    return {"steps": {"value": steps}}


def die_first_time(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """First attempt: publishes its pid and hangs (to be SIGKILLed); later attempts succeed."""
    pidfile = Path(request["pidfile"])
    if not pidfile.exists():
        tmp = pidfile.with_suffix(".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(pidfile)
        time.sleep(60)
    (results_dir / "done.txt").write_text("done")
    return {"done": {"file": "done.txt", "mediaType": "text/plain"}}


def write_files(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """A large file (request['size'] seeded random bytes: several database chunks), an empty one and
    a nested one."""
    import numpy as np

    data = np.random.default_rng(request["seed"]).integers(0, 256, request["size"], dtype=np.uint8).tobytes()
    (results_dir / "big.bin").write_bytes(data)
    (results_dir / "empty.txt").write_bytes(b"")
    (results_dir / "sub").mkdir()
    (results_dir / "sub" / "part.json").write_text('{"n": 1}')
    return {"big": {"file": "big.bin", "mediaType": "application/octet-stream"},
            "empty": {"file": "empty.txt", "mediaType": "text/plain"},
            "part": {"file": "sub/part.json", "mediaType": "application/json"}}


def log_and_hang_first_time(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress) -> dict[str, Any]:
    """Every execution appends its pid to request['log']; the first one then publishes its pid and
    hangs (to be SIGKILLed), later ones succeed."""
    log = Path(request["log"])
    first = not log.exists()
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\n")
    if first:
        pidfile = Path(request["pidfile"])
        pidfile.with_suffix(".tmp").write_text(str(os.getpid()))
        pidfile.with_suffix(".tmp").replace(pidfile)
        time.sleep(60)
    (results_dir / "done.txt").write_text("done")
    return {"done": {"file": "done.txt", "mediaType": "text/plain"}}


def gated(process_id: str, request: dict[str, Any], results_dir: Path, progress: Progress, *executor: Any) -> dict[str, Any]:
    """Execution n (1, 2, ...: one line each in request['log']) touches `{started}.{n}`, then waits
    for `{go}.{n}`, reporting progress every 20 ms meanwhile if request['report'] (else silent),
    then reports progress and writes `result.txt`: request['text'] and n. Runs coordinated too."""
    with open(request["log"], "a+") as f:
        f.seek(0)
        n = len(f.read().splitlines()) + 1
        f.write(f"{os.getpid()}\n")
    Path(f"{request['started']}.{n}").touch()
    go = Path(f"{request['go']}.{n}")
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        if request.get("report"):
            progress(10, "waiting")
        time.sleep(0.02)
    for pct in (50, 90):
        progress(pct, "after the gate")
    (results_dir / "result.txt").write_text(f"{request['text']} by execution {n}")
    return {"out": {"file": "result.txt", "mediaType": "text/plain"}}
