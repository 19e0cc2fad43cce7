"""Load generator, run in its own process: `python -m bench.load SPEC.json` prints a JSON result.

K keep-alive connections (one asyncio task each) take tile paths from one shared queue: first a
warm-up list (not measured), then the measured list, bounded by count and by time. The HTTP/1.1
client is a minimal one over asyncio streams, so that the client takes as little as possible of
the two cores it shares with the servers (its own CPU time is reported). Each response must be a
200 with a PNG of the expected size; anything else is counted as an error, with a sample.
The CPU time of each server worker is read (psutil) right before and after the measured phase.
"""
from __future__ import annotations

import asyncio
import json
import struct
import sys
import time

import psutil

from .quiet import busy_seconds

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REQUEST_TIMEOUT = 60.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
        headers["connection"] = "close"
    return status, headers, body


def _check(status: int, body: bytes, size: int) -> str | None:
    """None when the response is a PNG tile of size x size pixels, else what is wrong."""
    if status != 200:
        return f"HTTP {status}: {body[:300].decode('utf-8', 'replace')}"
    if not body.startswith(PNG_MAGIC) or body[12:16] != b"IHDR":
        return f"not a PNG: {body[:40]!r}"
    w, h = struct.unpack(">II", body[16:24])
    if (w, h) != (size, size):
        return f"PNG is {w}x{h}, expected {size}x{size}"
    return None


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode())
        try:
            status, headers, body = await asyncio.wait_for(_read_response(self.reader), REQUEST_TIMEOUT)
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run(spec: dict) -> dict:
    host, port, size = spec["host"], spec["port"], spec.get("tile_size", 256)
    warm = [(-1, p) for p in spec["warmup"]]
    measured = list(enumerate(spec["paths"][: spec["max_count"]]))
    queue: asyncio.Queue = asyncio.Queue()
    for item in warm:
        queue.put_nowait(item)
    warm_left = len(warm)
    warm_done = asyncio.Event()
    if not warm:
        warm_done.set()
    phase: dict = {}
    latencies: list[float] = []
    errors: list[str] = []
    nbytes = 0

    def start_measuring() -> None:
        phase["cpu0"] = _cpu(spec["worker_pids"])
        phase["self0"] = time.process_time()
        phase["busy0"] = busy_seconds()
        phase["t0"] = time.perf_counter()
        phase["deadline"] = phase["t0"] + spec["max_seconds"]
        for item in measured:
            queue.put_nowait(item)

    async def client() -> None:
        nonlocal warm_left, nbytes
        conn = Connection(host, port)
        try:
            while True:
                if queue.empty():
                    if warm_done.is_set():
                        return
                    await warm_done.wait()
                    continue
                i, path = queue.get_nowait()
                if i >= 0 and time.perf_counter() > phase["deadline"]:
                    return
                t0 = time.perf_counter()
                try:
                    status, _, body = await conn.get(path)
                    problem = _check(status, body, size)
                except Exception as exc:  # a dropped connection or a time-out is an error too
                    status, body, problem = 0, b"", f"{type(exc).__name__}: {exc}"
                dt = time.perf_counter() - t0
                if i < 0:
                    if problem:
                        errors.append(f"warm-up {path}: {problem}")
                    warm_left -= 1
                    if warm_left == 0:
                        start_measuring()
                        warm_done.set()
                    continue
                latencies.append(dt)
                nbytes += len(body)
                if problem:
                    errors.append(f"{path}: {problem}")
        finally:
            conn.close()

    if not warm:
        start_measuring()
    await asyncio.gather(*(client() for _ in range(spec["concurrency"])))
    elapsed = time.perf_counter() - phase["t0"]
    busy = busy_seconds() - phase["busy0"]
    client_cpu = time.process_time() - phase["self0"]
    cpu1 = _cpu(spec["worker_pids"])
    used = {str(pid): round(cpu1[pid] - phase["cpu0"][pid], 4) for pid in cpu1}
    return {
        "requests": len(latencies),
        "errors": len([e for e in errors if not e.startswith("warm-up")]),
        "warmup_errors": len([e for e in errors if e.startswith("warm-up")]),
        "error_samples": errors[:5],
        "seconds": elapsed,
        "bytes": nbytes,
        "latencies_ms": [round(1000 * v, 2) for v in latencies],
        "worker_cpu_s": used,
        "client_cpu_s": client_cpu,
        "machine_busy_s": busy,
    }


def _cpu(pids: list[int]) -> dict[int, float]:
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
        except psutil.NoSuchProcess:  # a worker died (it shows as a worker with no CPU; see the server log)
            out[pid] = 0.0
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(open(argv[0]).read())
    print(json.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
