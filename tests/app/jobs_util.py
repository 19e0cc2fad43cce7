"""Polling a job until it ends (bounded)."""
from __future__ import annotations

import time


def wait_job(client, url: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    st: dict = {}
    while time.time() < deadline:
        st = client.get(url).json()
        if st["status"] in ("successful", "failed", "dismissed"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"job not finished in {timeout} s: {st}")
