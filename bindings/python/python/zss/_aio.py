"""asyncio plumbing: one completion queue per event loop.

Client I/O threads push raw outcomes onto a native ``CompletionQueue`` and poke its socket;
the loop's reader callback drains them in batches and resolves the futures. Nothing here runs
on the I/O threads, and no thread is started per call.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from typing import Any, Dict, Tuple

from . import _native


class LoopBridge:
    """Futures of one event loop, keyed by the token sent with each call."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.queue = _native.CompletionQueue()
        self.futures: Dict[int, "asyncio.Future[Any]"] = {}
        self._tokens = itertools.count()
        loop.add_reader(self.queue.fileno(), self._drain)

    def register(self, loop: asyncio.AbstractEventLoop) -> "Tuple[int, asyncio.Future[Any]]":
        token = next(self._tokens)
        future = loop.create_future()
        self.futures[token] = future
        return token, future

    def forget(self, token: int) -> None:
        self.futures.pop(token, None)

    def _drain(self) -> None:
        for token, ok, value in self.queue.drain():
            future = self.futures.pop(token, None)
            if future is None or future.done():  # cancelled by the caller
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_bridges: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopBridge]" = weakref.WeakKeyDictionary()


def bridge(loop: asyncio.AbstractEventLoop) -> LoopBridge:
    """The bridge of ``loop``, created on first use (only ever from the loop's own thread)."""
    b = _bridges.get(loop)
    if b is None:
        b = _bridges[loop] = LoopBridge(loop)
    return b
