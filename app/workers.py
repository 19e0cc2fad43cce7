"""gunicorn worker class: uvicorn on asyncio, sharing new connections fairly between workers.

All gunicorn workers wait on one listening socket. asyncio accepts up to `backlog` pending
connections per wake-up, and a worker whose CPU work runs in threads keeps its event loop free,
so one worker often takes every keep-alive connection of a client while the other idles (see
FIELD-NOTES). Here a worker accepts one connection per wake-up, and a worker that is computing
waits a little before accepting, so an idle sibling takes the connection first.
"""
from __future__ import annotations

import asyncio.selector_events as selector_events

from uvicorn_worker import UvicornWorker

from . import load

_accept = selector_events.BaseSelectorEventLoop._accept_connection
DELAY_PER_TASK = 0.002
MAX_DELAY = 0.02


def _fair_accept(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *args):
    busy = load.active()
    if busy and not getattr(sock, "_geodeferred_waited", False):
        fd = sock.fileno()
        self._remove_reader(fd)

        def resume() -> None:
            if sock.fileno() != -1 and server is not None and server.is_serving():
                sock._geodeferred_waited = True
                self._add_reader(fd, self._accept_connection, protocol_factory, sock, sslcontext, server, backlog, *args)

        self.call_later(min(MAX_DELAY, DELAY_PER_TASK * busy), resume)
        return None
    if hasattr(sock, "_geodeferred_waited"):
        sock._geodeferred_waited = False
    return _accept(self, protocol_factory, sock, sslcontext, server, 1, *args)


class FairUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "httptools"}

    def init_process(self) -> None:
        selector_events.BaseSelectorEventLoop._accept_connection = _fair_accept
        super().init_process()
