"""gunicorn worker class: uvicorn on asyncio, sharing new connections fairly between workers.

All gunicorn workers wait on one listening socket. asyncio accepts up to `backlog` pending
connections per wake-up, and a worker whose CPU work runs in threads keeps its event loop free,
so one worker often takes every keep-alive connection of a client while the other idles (see
FIELD-NOTES). Here a worker accepts one connection per wake-up and then pauses a millisecond,
and a worker that is computing waits a little before accepting, so that a sibling woken by the
same connection (idle, or less busy) takes it first.
"""
from __future__ import annotations

import asyncio.selector_events as selector_events
import logging

from uvicorn_worker import UvicornWorker

from . import load

_accept = selector_events.BaseSelectorEventLoop._accept_connection
_resumed: set[int] = set()  # listening fds back from a pause: accept now, whatever the load
ACCEPT_PAUSE = 0.001  # after each accept: lets a sibling that was woken too take the next one
DELAY_PER_TASK = 0.002  # a computing worker waits this long per task before accepting
MAX_DELAY = 0.02
log = logging.getLogger("geodeferred")


def fair_accept(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *args):
    """Replacement of asyncio's accept callback (same signature)."""
    fd = sock.fileno()
    busy = load.active()
    if fd in _resumed or not busy:
        _resumed.discard(fd)
        _accept(self, protocol_factory, sock, sslcontext, server, 1, *args)
        delay = ACCEPT_PAUSE
    else:
        delay = min(MAX_DELAY, DELAY_PER_TASK * busy)
    if server is None or sock.fileno() == -1:
        return None
    try:
        self._remove_reader(fd)
        self.call_later(delay, _resume, self, protocol_factory, sock, sslcontext, server, backlog, args)
    except Exception:  # never lose the listener
        log.exception("fair accept: pause failed")
        self._add_reader(fd, self._accept_connection, protocol_factory, sock, sslcontext, server, backlog, *args)
    return None


def _resume(loop, protocol_factory, sock, sslcontext, server, backlog, args) -> None:
    fd = sock.fileno()
    if fd == -1 or not server.is_serving():
        return
    _resumed.add(fd)
    loop._add_reader(fd, loop._accept_connection, protocol_factory, sock, sslcontext, server, backlog, *args)


def install() -> None:
    selector_events.BaseSelectorEventLoop._accept_connection = fair_accept


class FairUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "httptools"}

    def init_process(self) -> None:
        install()
        super().init_process()
