"""The ZSS client: blocking ``call`` and asyncio ``acall`` on one shared connection."""

from __future__ import annotations

import asyncio
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from . import _aio, _native
from ._native import Reply
from ._security import Curve, curve_args

__all__ = ["Client", "Reply", "Brokers"]

#: Broker endpoints: one ``str`` (several may be separated by commas) or a list of ``str``.
Brokers = Union[str, Sequence[str]]


class Client:
    """A connection to a broker's frontend.

    One client serves any number of threads and coroutines at once: calls are multiplexed on a
    single socket owned by a background I/O thread, and matched to replies by request id.

    :param broker: the broker's frontend endpoint (``tcp://``, ``ipc://`` or ``inproc://``), or
        several brokers: a list of endpoints or one comma-separated ``str``. Calls then go to
        the broker with the fewest calls in flight among those that are up; a broker that
        drops its connection or leaves its pings unanswered gets no more calls until it
        answers again, and the calls in flight on it raise :class:`BrokerLostError` at once
        (or are re-sent elsewhere: ``retries``/``idempotent`` on :meth:`call`).
    :param sid: the service called when a call names none.
    :param timeout: default per-call timeout in seconds (a call past it raises :class:`Timeout`).
    :param identity: prefix of the socket identity (``<identity>#<uuid>``).
    :param headers: headers sent with every call (a call's own headers override them).
    :param curve: encrypt with CURVE: a :class:`Curve` (the broker's public key and this
        client's :class:`KeyPair` or secret key). A key that does not parse raises ValueError
        here; a broker that refuses the handshake makes calls raise
        :class:`AuthenticationError` within about a second. None: plaintext.
    :param heartbeat: with several brokers, seconds between pings to each (default 1.0)...
    :param lost_after: ...and how many intervals without a word from one make it lost
        (default 3): a broker that hangs costs its calls in flight after about
        ``heartbeat * lost_after`` seconds, one whose connection drops at once.
    """

    def __init__(
        self,
        broker: Brokers = "tcp://127.0.0.1:7777",
        sid: Optional[str] = None,
        timeout: float = 1.0,
        identity: str = "client",
        headers: Optional[Mapping[str, Any]] = None,
        *,
        curve: Optional[Curve] = None,
        heartbeat: Optional[float] = None,
        lost_after: Optional[int] = None,
    ) -> None:
        if lost_after is not None:
            lost_after = _count("lost_after", lost_after, minimum=1)
        self._native = _native.Client(
            broker, sid, timeout, identity, _dict(headers), curve_args(curve), heartbeat, lost_after
        )

    @property
    def identity(self) -> str:
        """This client's socket identity, ``<prefix>#<uuid>``."""
        return self._native.identity

    @property
    def broker(self) -> str:
        """The broker endpoints this client connects to, comma-separated."""
        return self._native.broker

    @property
    def brokers(self) -> List[str]:
        """The broker endpoints this client connects to."""
        return self._native.brokers

    @property
    def liveness(self) -> Tuple[float, int]:
        """``(heartbeat, lost_after)``: the brokers' ping interval in seconds and how many
        silent intervals make one lost."""
        return self._native.liveness

    def set_brokers(self, broker: Brokers) -> None:
        """Replaces the brokers: new ones are connected; one no longer listed takes no new
        calls and is closed once its calls in flight are answered."""
        self._native.set_brokers(broker)

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
        retries: Optional[int] = None,
        idempotent: bool = False,
    ) -> Reply:
        """Calls ``verb`` and blocks until the reply.

        The GIL is released while waiting, and Ctrl-C (or any signal handler that raises)
        interrupts the wait. Returns the :class:`Reply` for a 2xx status.

        ``retries``: how many times the call may be re-sent to another broker when its broker
        is lost with it in flight (default 0). ``idempotent=True`` is ``retries=2`` (an explicit
        ``retries`` wins). Only for calls that are safe to run twice: the lost broker may have
        delivered the call already.

        :raises ServiceError: the service or broker answered with an error status.
        :raises Timeout: no reply within the timeout (status 599).
        :raises TypeError: the payload or headers hold a type that cannot be sent.
        :raises ValueError: bad arguments (no service id, non-positive timeout, …).
        :raises AuthenticationError: the broker refused this client's CURVE handshake.
        :raises BrokerLostError: the call's broker was lost with it in flight (503), and it
            had no retries left; it may or may not have run.
        """
        return self._native.call(verb, payload, sid, _dict(headers), timeout, _retries(retries, idempotent))

    async def acall(
        self,
        verb: str,
        payload: Any = None,
        *,
        sid: Optional[str] = None,
        headers: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
        retries: Optional[int] = None,
        idempotent: bool = False,
    ) -> Reply:
        """Like :meth:`call`, as a coroutine that never blocks the event loop.

        No thread is used per call: the client's I/O thread queues the outcome and wakes the
        loop, which resolves the awaiting future. Cancelling the await abandons the call (its
        reply, if any, is discarded).
        """
        n = _retries(retries, idempotent)
        loop = asyncio.get_running_loop()
        bridge = _aio.bridge(loop)
        token, future = bridge.register(loop)
        try:
            self._native.submit(bridge.queue, token, verb, payload, sid, _dict(headers), timeout, n)
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


def _retries(retries: Optional[int], idempotent: bool) -> int:
    """The re-sends a call gets from its ``retries``/``idempotent`` arguments."""
    if not isinstance(idempotent, bool):
        raise TypeError(f"idempotent must be a bool, not {type(idempotent).__name__}")
    if retries is None:
        return _native.IDEMPOTENT_RETRIES if idempotent else 0
    return _count("retries", retries, minimum=0)


def _count(name: str, value: Any, minimum: int) -> int:
    """An int argument of at least ``minimum`` (and at most 2**32-1): TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not minimum <= value < 2**32:
        raise ValueError(f"{name} must be an int from {minimum} to {2**32 - 1}, got {value}")
    return value


def _dict(headers: Optional[Mapping[str, Any]]) -> Any:
    # The native side takes a dict: copy other mappings, pass anything else through for it to
    # reject with a TypeError naming the type.
    if headers is not None and not isinstance(headers, dict) and isinstance(headers, Mapping):
        return dict(headers)
    return headers
