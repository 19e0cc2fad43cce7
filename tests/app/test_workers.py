"""The fair-accept loop patch: one connection per wake-up, busy workers defer, nothing is lost."""
from __future__ import annotations

import asyncio
import selectors

from app import load, workers


def run_server(busy: int, clients: int) -> tuple[int, float]:
    """Start an asyncio server with the patched accept while `busy` tasks are counted; connect clients."""
    accepted = 0

    async def main() -> float:
        nonlocal accepted

        async def handle(reader, writer):
            nonlocal accepted
            accepted += 1
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
        for _ in range(200):
            if accepted == clients:
                break
            await asyncio.sleep(0.005)
        elapsed = loop.time() - t0
        for _, w in conns:
            w.close()
        server.close()
        await server.wait_closed()
        return elapsed

    original = workers._accept
    try:
        workers.install()
        load._active["tiles"] = busy
        loop = asyncio.SelectorEventLoop(selectors.DefaultSelector())
        try:
            elapsed = loop.run_until_complete(main())
        finally:
            loop.close()
    finally:
        load._active.clear()
        asyncio.selector_events.BaseSelectorEventLoop._accept_connection = original
    return accepted, elapsed


def test_idle_worker_accepts_everything_at_once():
    accepted, elapsed = run_server(busy=0, clients=8)
    assert accepted == 8


def test_busy_worker_still_accepts_after_a_short_delay():
    accepted, elapsed = run_server(busy=5, clients=8)
    assert accepted == 8  # deferred, never dropped
    assert elapsed >= workers.DELAY_PER_TASK * 5
