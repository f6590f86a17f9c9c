"""The ZSS service (worker): verb handlers served through a broker's backend."""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import threading
import weakref
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar, Union

from . import _native
from ._errors import ServiceError
from ._native import Request, Response
from ._security import Curve, curve_args
from .broker import _on_signals
from .client import Brokers

__all__ = ["Service", "Request", "Response", "Handler"]

log = logging.getLogger("zss")

#: A handler: ``(payload, request) -> result``, or a coroutine function with that signature.
#: The result is the reply payload, a :class:`Response` (a chosen 2xx status and/or reply
#: headers), a ``(status, payload)`` tuple with a 2xx status, or None (status 204). Raise
#: :class:`ServiceError` to answer with an error.
Handler = Callable[[Any, Request], Union[Any, Awaitable[Any]]]
H = TypeVar("H", bound=Handler)

# Services still running at interpreter exit are stopped first: their handler threads must not
# try to enter an interpreter that is shutting down.
_running: "weakref.WeakSet[Service]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for service in list(_running):
        service.stop()


_context = threading.local()


class Service:
    """A service answering requests for ``sid``.

    Sync handlers run on the core's handler threads (at most ``concurrency`` at once), holding
    the GIL only while Python code runs. ``async def`` handlers run on an asyncio loop: the one
    given as ``loop`` (it must be running), else one the service owns on a background thread.

    :param sid: the service id (case-insensitive; upper-cased on the wire).
    :param broker: the broker's backend endpoint, or several brokers (a list of endpoints or one
        comma-separated ``str``): the service registers with every one, heartbeats each, and
        re-registers with each on its own when it comes back.
    :param heartbeat: seconds between heartbeats to the broker.
    :param concurrency: requests handled at once; more wait in the service's queue.
    :param loop: a running event loop for ``async def`` handlers.
    :param curve: encrypt with CURVE: a :class:`Curve` (the broker's public key and this
        service's :class:`KeyPair` or secret key), checked here (TypeError/ValueError). A
        service the broker refuses (wrong keys, or its key may not serve the sid) stops by
        itself: :attr:`error` says why and :meth:`run` raises it. None: plaintext.
    """

    def __init__(
        self,
        sid: str,
        broker: Brokers = "tcp://127.0.0.1:7776",
        *,
        heartbeat: float = 1.0,
        concurrency: int = 16,
        loop: Optional[asyncio.AbstractEventLoop] = None,
        curve: Optional[Curve] = None,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        self._curve = curve_args(curve)
        self._error: Optional[BaseException] = None
        self.sid = sid
        self._brokers: List[str] = _native.endpoints(broker, "broker")
        self.heartbeat = heartbeat
        self.concurrency = concurrency
        self._handlers: Dict[str, Handler] = {}
        self._worker: Optional[_native.RunningWorker] = None
        self._loop = loop
        self._own_loop: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def broker(self) -> str:
        """The broker endpoints, comma-separated (assigning sets :attr:`brokers`)."""
        return ",".join(self._brokers)

    @broker.setter
    def broker(self, broker: Brokers) -> None:
        self.brokers = broker

    @property
    def brokers(self) -> List[str]:
        """The broker endpoints. Assigning a new list (or comma-separated ``str``) to a running
        service registers it with the new brokers and disconnects it from the ones left out."""
        return list(self._brokers)

    @brokers.setter
    def brokers(self, broker: Brokers) -> None:
        endpoints = _native.endpoints(broker, "broker")
        with self._lock:
            self._brokers = endpoints
            if self._worker is not None:
                self._worker.set_brokers(endpoints)

    # -- definition ----------------------------------------------------------------------------

    def add_verb(self, verb: str, handler: Handler) -> None:
        """Registers ``handler`` for ``verb`` (case-insensitive). Only before :meth:`start`."""
        if not callable(handler):
            raise TypeError(f"handler for {verb!r} must be callable")
        if not isinstance(verb, str) or not verb:
            raise ValueError("verb must be a non-empty str")
        if self._worker is not None:
            raise RuntimeError("verbs cannot be added to a running service")
        self._handlers[verb.upper()] = handler

    def verb(self, verb: str) -> Callable[[H], H]:
        """Decorator form of :meth:`add_verb`::

            @service.verb("ping")
            def ping(payload, request):
                return payload
        """

        def register(handler: H) -> H:
            self.add_verb(verb, handler)
            return handler

        return register

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the service is started and not yet stopped."""
        return self._worker is not None

    @property
    def identity(self) -> Optional[str]:
        """The worker's socket identity while running (``<SID>#<uuid>``)."""
        return self._worker.identity if self._worker else None

    def start(self) -> "Service":
        """Connects, registers with the broker and serves in the background; returns ``self``."""
        with self._lock:
            if self._worker is not None:
                return self
            if not self._handlers:
                raise RuntimeError(f"service {self.sid!r} has no verbs")
            self._error = None
            if any(inspect.iscoroutinefunction(h) for h in self._handlers.values()):
                self._event_loop_locked()
            self._worker = _native.start_worker(
                self.sid,
                self._brokers,
                self.heartbeat,
                self.concurrency,
                list(self._handlers.items()),
                self._dispatch,
                self._curve,
            )
            _running.add(self)
        return self

    def stop(self) -> None:
        """Stops: handlers in flight finish (bounded), the broker is told (SMI DOWN).

        Blocks until done, except when called from inside a handler or from the service's
        event loop, where it only requests the stop (waiting there would wait for itself).
        """
        worker = self._worker
        if worker is None:
            return
        if getattr(_context, "in_handler", False) or self._on_loop_thread():
            worker.stop()
            return
        worker.join()
        with self._lock:
            self._error = worker.error()
            if self._worker is worker:
                self._worker = None
                _running.discard(self)
            self._close_own_loop_locked()

    @property
    def error(self) -> Optional[BaseException]:
        """Why the service stopped by itself while running: the broker refused its CURVE
        handshake or its registration (:class:`AuthenticationError`), also after :meth:`stop`.
        None otherwise."""
        worker = self._worker
        return worker.error() if worker else self._error

    def run(self) -> None:
        """Serves until SIGINT/SIGTERM (when called from the main thread) or :meth:`stop`.

        :raises AuthenticationError: the broker refused the service (it stopped by itself).
        """
        self.start()
        worker = self._worker
        assert worker is not None
        restore = _on_signals(lambda *_: worker.stop())
        try:
            worker.wait()
        finally:
            restore()
            self.stop()
        if self._error is not None:
            raise self._error

    def stats(self) -> Dict[str, int]:
        """The worker's counters (requests, replies, handler_errors, …); empty when stopped."""
        return self._worker.stats() if self._worker else {}

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<zss.Service {self.sid} via {self.broker} verbs={sorted(self._handlers)} running={self.running}>"

    # -- dispatch (runs on the core's handler threads) -------------------------------------------

    def _dispatch(self, handler: Handler, payload: Any, request: Request, responder: _native.Responder) -> None:
        _context.in_handler = True
        try:
            result = handler(payload, request)
        except Exception as exc:
            self._fail(exc, request, responder)
            return
        finally:
            _context.in_handler = False
        if inspect.isawaitable(result):
            # The core keeps counting the request as in flight until the responder answers, so
            # `concurrency` bounds async handlers too.
            asyncio.run_coroutine_threadsafe(self._finish(result, request, responder), self._event_loop())
        else:
            self._reply(result, request, responder)

    async def _finish(self, awaitable: Awaitable[Any], request: Request, responder: _native.Responder) -> None:
        try:
            result = await awaitable
        except asyncio.CancelledError:
            # Only the service's own shutdown cancels handlers: answer 503 ("the service
            # instance stopped before replying") rather than leave the caller to time out.
            log.warning("%s:%s (rid %s) cancelled: the service is stopping", request.sid, request.verb, request.rid)
            responder.fail(ServiceError(503))
            raise
        except Exception as exc:
            self._fail(exc, request, responder)
            return
        self._reply(result, request, responder)

    def _reply(self, result: Any, request: Request, responder: _native.Responder) -> None:
        try:
            responder.reply(result)
        except (TypeError, ValueError) as exc:
            log.error("%s:%s (rid %s) returned a result that cannot be sent: %s", request.sid, request.verb, request.rid, exc)
            responder.fail(exc)

    def _fail(self, exc: BaseException, request: Request, responder: _native.Responder) -> None:
        if isinstance(exc, ServiceError):
            try:
                responder.fail(exc)
                return
            except (TypeError, ValueError) as bad:
                exc = bad
        log.error("handler for %s:%s failed (rid %s)", request.sid, request.verb, request.rid, exc_info=exc)
        responder.fail(exc)

    # -- the event loop for async handlers ------------------------------------------------------

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            return self._event_loop_locked()

    def _event_loop_locked(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name=f"zss-service {self.sid} asyncio", daemon=True)
            thread.start()
            self._loop, self._own_loop = loop, thread
        return self._loop

    def _close_own_loop_locked(self) -> None:
        if self._own_loop is None or self._loop is None:
            return
        loop, thread = self._loop, self._own_loop
        self._loop = self._own_loop = None
        # Handlers still running after the worker's drain are cancelled and given the chance to
        # answer and clean up (their `finally` blocks run) before the loop goes away.
        try:
            asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout=5)
        except Exception:  # pragma: no cover - a handler that refuses to be cancelled
            log.exception("async handlers of %s did not finish cancelling", self.sid)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False


async def _cancel_all() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
