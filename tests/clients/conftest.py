"""Fixtures shared by the independent-client tests (owslib, GDAL, gunicorn)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def say(request):
    """Print one line into pytest's output, past output capturing and -q (client versions)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(text: str) -> None:
        if reporter is None:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(f"[clients] {text}")
        else:
            reporter.ensure_newline()
            reporter.write_line(f"[clients] {text}")
    return write
