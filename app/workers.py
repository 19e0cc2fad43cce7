"""gunicorn worker class: uvicorn on asyncio, sharing new connections fairly between workers.

All gunicorn workers wait on one listening socket. asyncio accepts up to `backlog` pending
connections per wake-up, and a worker whose CPU work runs in threads keeps its event loop free,
so one worker often takes every keep-alive connection of a client while the other idles (see
FIELD-NOTES). Here a worker accepts one connection per wake-up, and a worker that is computing
waits a little before accepting, so an idle sibling takes the connection first.
"""
from __future__ import annotations

import asyncio.selector_events as selector_events
import logging

from uvicorn_worker import UvicornWorker

from . import load

_accept = selector_events.BaseSelectorEventLoop._accept_connection
_deferred: set[int] = set()  # listening fds whose accept was already put off once
DELAY_PER_TASK = 0.002
MAX_DELAY = 0.02
log = logging.getLogger("geodeferred")


def fair_accept(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100, *args):
    """Replacement of asyncio's accept callback (same signature)."""
    fd = sock.fileno()
    busy = load.active()
    if busy and fd not in _deferred and server is not None:
        try:
            _deferred.add(fd)
            self._remove_reader(fd)
            self.call_later(min(MAX_DELAY, DELAY_PER_TASK * busy), _resume, self, protocol_factory, sock,
                            sslcontext, server, backlog, args)
            return None
        except Exception:  # never lose the listener: fall back to accepting now
            log.exception("fair accept: deferral failed")
    _deferred.discard(fd)
    return _accept(self, protocol_factory, sock, sslcontext, server, 1, *args)


def _resume(loop, protocol_factory, sock, sslcontext, server, backlog, args) -> None:
    fd = sock.fileno()
    if fd == -1 or not server.is_serving():
        _deferred.discard(fd)
        return
    loop._add_reader(fd, loop._accept_connection, protocol_factory, sock, sslcontext, server, backlog, *args)


def install() -> None:
    selector_events.BaseSelectorEventLoop._accept_connection = fair_accept


class FairUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {"loop": "asyncio", "http": "httptools"}

    def init_process(self) -> None:
        install()
        super().init_process()
