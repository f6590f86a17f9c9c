"""The ZSS client: blocking ``call`` and asyncio ``acall`` on one shared connection."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Optional

from . import _aio, _native
from ._native import Reply
from ._security import Curve, curve_args

__all__ = ["Client", "Reply"]


class Client:
    """A connection to a broker's frontend.

    One client serves any number of threads and coroutines at once: calls are multiplexed on a
    single socket owned by a background I/O thread, and matched to replies by request id.

    :param broker: the broker's frontend endpoint (``tcp://``, ``ipc://`` or ``inproc://``).
    :param sid: the service called when a call names none.
    :param timeout: default per-call timeout in seconds (a call past it raises :class:`Timeout`).
    :param identity: prefix of the socket identity (``<identity>#<uuid>``).
    :param headers: headers sent with every call (a call's own headers override them).
    :param curve: encrypt with CURVE: a :class:`Curve` (the broker's public key and this
        client's :class:`KeyPair` or secret key). A key that does not parse raises ValueError
        here; a broker that refuses the handshake makes calls raise
        :class:`AuthenticationError` within about a second. None: plaintext.
    """

    def __init__(
        self,
        broker: str = "tcp://127.0.0.1:7777",
        sid: Optional[str] = None,
        timeout: float = 1.0,
        identity: str = "client",
        headers: Optional[Mapping[str, Any]] = None,
        *,
        curve: Optional[Curve] = None,
    ) -> None:
        self._native = _native.Client(broker, sid, timeout, identity, _dict(headers), curve_args(curve))

    @property
    def identity(self) -> str:
        """This client's socket identity, ``<prefix>#<uuid>``."""
        return self._native.identity

    @property
    def broker(self) -> str:
        """The broker endpoint this client connects to."""
        return self._native.broker

    @property
    def sid(self) -> Optional[str]:
        """The default service id."""
        return self._native.sid

    @property
    def timeout(self) -> float:
        """The default per-call timeout, in seconds."""
        return self._native.timeout

    def call(
        self,
        verb: str,
        payload: Any = None,
        *,
        sid: Optional[str] = None,
        headers: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Reply:
        """Calls ``verb`` and blocks until the reply.

        The GIL is released while waiting, and Ctrl-C (or any signal handler that raises)
        interrupts the wait. Returns the :class:`Reply` for a 2xx status.

        :raises ServiceError: the service or broker answered with an error status.
        :raises Timeout: no reply within the timeout (status 599).
        :raises TypeError: the payload or headers hold a type that cannot be sent.
        :raises ValueError: bad arguments (no service id, non-positive timeout, …).
        :raises AuthenticationError: the broker refused this client's CURVE handshake.
        """
        return self._native.call(verb, payload, sid, _dict(headers), timeout)

    async def acall(
        self,
        verb: str,
        payload: Any = None,
        *,
        sid: Optional[str] = None,
        headers: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Reply:
        """Like :meth:`call`, as a coroutine that never blocks the event loop.

        No thread is used per call: the client's I/O thread queues the outcome and wakes the
        loop, which resolves the awaiting future. Cancelling the await abandons the call (its
        reply, if any, is discarded).
        """
        loop = asyncio.get_running_loop()
        bridge = _aio.bridge(loop)
        token, future = bridge.register(loop)
        try:
            self._native.submit(bridge.queue, token, verb, payload, sid, _dict(headers), timeout)
            reply: Reply = await future
            return reply
        finally:
            bridge.forget(token)

    def management(self, verb: str, *, timeout: Optional[float] = None) -> Any:
        """Calls the broker's management interface and returns the reply's payload.

        ``verb`` is ``"PING"``, ``"INFO"``, ``"SERVICES"`` (each service id with its live
        workers) or ``"STATS"`` (broker totals and per-service requests, replies by status
        class, errors, in flight, latency p50/p99 in ms). Blocking like :meth:`call`.

        :raises ServiceError: 404 for an unknown verb, or from a broker without the interface
            (the original Node broker).
        """
        return self.call(verb, sid=_native.SMI_SID, timeout=timeout).payload

    async def amanagement(self, verb: str, *, timeout: Optional[float] = None) -> Any:
        """Like :meth:`management`, as a coroutine."""
        reply = await self.acall(verb, sid=_native.SMI_SID, timeout=timeout)
        return reply.payload

    def close(self) -> None:
        """Closes the connection; pending calls fail with :class:`ClosedError`. Idempotent."""
        self._native.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<zss.Client {self.identity} -> {self.broker} sid={self.sid!r}>"


def _dict(headers: Optional[Mapping[str, Any]]) -> Any:
    # The native side takes a dict: copy other mappings, pass anything else through for it to
    # reject with a TypeError naming the type.
    if headers is not None and not isinstance(headers, dict) and isinstance(headers, Mapping):
        return dict(headers)
    return headers
