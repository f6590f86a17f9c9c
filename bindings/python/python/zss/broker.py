"""An in-process ZSS broker."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any, Dict, Optional, Union

from . import _native
from ._security import KeyPair, KeySpec, key_spec, secret_spec

__all__ = ["Broker"]


class Broker:
    """A ZSS broker running inside this process.

    The sockets are bound when the object is created, so a busy or invalid address raises at
    once, and wildcard ports (``tcp://127.0.0.1:*``) are resolved: read :attr:`frontend` and
    :attr:`backend`. Serving starts with :meth:`start` (or ``with``) on a background thread.

    :param frontend: where clients connect.
    :param backend: where services (workers) connect.
    :param heartbeat: the workers' heartbeat interval in seconds (informational).
    :param max_ttl: a worker silent for longer than this (seconds) is dropped.
    :param curve_secret: serve CURVE on both sockets with this secret key (a :data:`KeySpec`
        or a :class:`KeyPair`); plaintext peers get nothing through.
    :param allow: with ``curve_secret``, the path of an allow list (one public key a line,
        with optional ``name=``, ``call=`` and ``serve=`` permissions): only those keys may
        connect. A malformed key or list raises ValueError here.
    """

    def __init__(
        self,
        frontend: str = "tcp://127.0.0.1:7777",
        backend: str = "tcp://127.0.0.1:7776",
        *,
        heartbeat: Optional[float] = None,
        max_ttl: Optional[float] = None,
        curve_secret: Union[KeyPair, KeySpec, None] = None,
        allow: Union[str, "os.PathLike[str]", None] = None,
    ) -> None:
        self._native = _native.Broker(
            frontend,
            backend,
            heartbeat,
            max_ttl,
            None if curve_secret is None else secret_spec(curve_secret, "curve_secret"),
            None if allow is None else key_spec(allow, "allow", "an allow list file"),
        )
        self._stopped = threading.Event()

    @property
    def frontend(self) -> str:
        """The frontend endpoint actually bound (wildcard port resolved)."""
        return self._native.frontend

    @property
    def backend(self) -> str:
        """The backend endpoint actually bound (wildcard port resolved)."""
        return self._native.backend

    @property
    def running(self) -> bool:
        """Whether the broker is serving."""
        return self._native.running

    def start(self) -> "Broker":
        """Starts serving in the background; returns ``self``."""
        self._native.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the sockets. A stopped broker cannot be restarted."""
        self._native.stop()
        self._stopped.set()

    def run(self) -> None:
        """Serves until SIGINT/SIGTERM (when called from the main thread) or :meth:`stop`."""
        self.start()
        restore = _on_signals(lambda *_: self._stopped.set())
        try:
            # Event.wait with a timeout stays responsive to signals in the main thread.
            while not self._stopped.wait(0.2):
                pass
        finally:
            restore()
            self.stop()

    def stats(self) -> Dict[str, int]:
        """The broker's counters (requests, replies, workers, …); empty when not running."""
        return self._native.stats()

    def __enter__(self) -> "Broker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<zss.Broker frontend={self.frontend} backend={self.backend} running={self.running}>"


def _on_signals(handler: Any) -> Any:
    """Installs ``handler`` for SIGINT and SIGTERM if we are on the main thread; returns a
    function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
