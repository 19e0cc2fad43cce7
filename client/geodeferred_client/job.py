"""An asynchronous job (OGC API - Processes Part 1): status, progress, wait (tqdm bar if installed), result."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .errors import JobFailed, raise_for_problem
from .results import to_array

if TYPE_CHECKING:
    from .service import Service

DONE = ("successful", "failed", "dismissed")


class Job:
    def __init__(self, svc: "Service", url: str) -> None:
        self._svc, self.url = svc, url
        self.id = url.rstrip("/").rsplit("/", 1)[-1]
        self._last: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Job {self.id} {self._last.get('status', '?')}>"

    def status(self) -> str:
        self._last = raise_for_problem(self._svc.http.get(self.url)).json()
        return self._last["status"]

    @property
    def progress(self) -> int:
        """Percent done (as last reported by the server)."""
        self.status()
        return int(self._last.get("progress") or 0)

    def wait(self, timeout: float = 600, interval: float = 0.2, progress: bool = True) -> "Job":
        """Poll until the job ends (a tqdm bar when tqdm is installed and progress=True)."""
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm

                bar = tqdm(total=100, desc=f"job {self.id[:8]}", leave=False)
            except ImportError:
                bar = None
        deadline = time.monotonic() + timeout
        try:
            while self.status() not in DONE:
                if bar is not None:
                    bar.update(int(self._last.get("progress") or 0) - bar.n)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} still {self._last['status']} after {timeout} s")
                time.sleep(interval)
            if bar is not None:
                bar.update(100 - bar.n)
        finally:
            if bar is not None:
                bar.close()
        if self._last["status"] != "successful":
            raise JobFailed(0, f"job {self._last['status']}", str(self._last.get("message") or ""), document=self._last)
        return self

    def result(self, xarray: bool = False) -> Any:
        """Wait, then the outputs: a raster output as an array, a JSON one (inline or linked) as its
        document; the only output itself, else a dict by output name."""
        self.wait(progress=False)
        doc = raise_for_problem(self._svc.http.get(f"{self.url}/results")).json()
        out = {}
        for name, value in doc.items():
            if isinstance(value, dict) and "href" in value and "tiff" in value.get("type", ""):
                out[name] = to_array(raise_for_problem(self._svc.http.get(value["href"])).content, xarray)
            elif isinstance(value, dict) and "href" in value and "json" in value.get("type", ""):
                out[name] = raise_for_problem(self._svc.http.get(value["href"])).json()  # e.g. GeoJSON features
            else:
                out[name] = value
        return next(iter(out.values())) if len(out) == 1 else out

    def dismiss(self) -> None:
        raise_for_problem(self._svc.http.delete(self.url))
