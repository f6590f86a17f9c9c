"""The exceptions zss raises. The native module imports these classes by name."""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import _native

__all__ = ["ZssError", "ServiceError", "Timeout", "ClosedError", "SocketError", "AuthenticationError", "BrokerLostError"]


class ZssError(Exception):
    """Base class of every error zss raises (argument errors are plain TypeError/ValueError)."""


class ServiceError(ZssError):
    """A non-2xx reply, or raised by a handler to send one.

    ``code`` is the status (e.g. 404); ``user_message`` and ``developer_message`` default to
    the standard texts for the code; ``payload`` is the whole error payload as a dict. When a
    handler raises one, extra payload keys (e.g. ``validationErrors``) travel to the caller
    next to the standard fields.
    """

    code: int
    user_message: str
    developer_message: str
    payload: Dict[str, Any]

    def __init__(
        self,
        code: int = 500,
        user_message: Optional[str] = None,
        developer_message: Optional[str] = None,
        payload: Optional[Dict[str, Any]] = None,
    ) -> None:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 999:
            raise ValueError(f"ServiceError code must be an int status (100-999), got {code!r}")
        default_user, default_developer = _native.status_messages(code)
        self.code = code
        self.user_message = default_user if user_message is None else user_message
        self.developer_message = default_developer if developer_message is None else developer_message
        self.payload = dict(payload) if payload else {}
        super().__init__(code, self.user_message, self.developer_message, self.payload)

    def __str__(self) -> str:
        return f"{self.code} {self.user_message}: {self.developer_message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.user_message!r}, {self.developer_message!r})"


class Timeout(ServiceError):
    """The call got no reply within its timeout (status 599, never sent on the wire)."""

    def __init__(
        self,
        code: int = 599,
        user_message: Optional[str] = None,
        developer_message: Optional[str] = None,
        payload: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(code, user_message, developer_message, payload)


class ClosedError(ZssError):
    """The client (or service) was closed while the call was pending or before it was made."""


class SocketError(ZssError, OSError):
    """A ZeroMQ operation failed: bad endpoint, address in use, …"""


class AuthenticationError(ZssError):
    """The broker refused our CURVE handshake (wrong broker key, our key not on its allow list)
    or a service's registration (403: its key may not serve the sid). Retrying will not help."""


class BrokerLostError(ServiceError):
    """The broker a call went through was lost with the call in flight (code 503): it may or
    may not have run. Calls made with ``retries=N`` are re-sent to another broker instead."""
