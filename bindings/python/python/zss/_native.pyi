"""Type stubs for ``zss._native``, the compiled half of the package (Rust, pyo3).

Use the documented wrappers in :mod:`zss`; these classes are their building blocks.
"""

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__version__: str
SMI_SID: str
IDEMPOTENT_RETRIES: int

class Reply:
    """A successful (2xx) reply."""

    @property
    def status(self) -> int:
        """The 2xx status (204 when the service returned no payload)."""
    @property
    def headers(self) -> Dict[str, Any]:
        """The reply headers (request headers echoed, plus what broker and service added)."""
    @property
    def payload(self) -> Any:
        """The decoded payload."""
    @property
    def rid(self) -> str:
        """The request id."""

class CompletionQueue:
    """Outcomes of asynchronous calls, handed from client I/O threads to one event loop."""

    def __init__(self) -> None: ...
    def fileno(self) -> int:
        """The descriptor that becomes readable when outcomes are waiting."""
    def drain(self) -> List[Tuple[int, bool, Any]]:
        """Takes every waiting outcome: ``(token, ok, reply_or_exception)``."""

class Client:
    """A connection to a broker's frontend, shareable between threads."""

    def __init__(
        self,
        broker: Union[str, Sequence[str]],
        sid: Optional[str],
        timeout: float,
        identity: str,
        headers: Optional[Dict[str, Any]],
        curve: Optional[Tuple[str, str, Optional[str]]] = None,
        heartbeat: Optional[float] = None,
        lost_after: Optional[int] = None,
    ) -> None:
        """``curve``: ``(broker_key, secret_key, public_key or None)``, each a key spec."""
    @property
    def identity(self) -> str: ...
    @property
    def broker(self) -> str: ...
    @property
    def brokers(self) -> List[str]: ...
    @property
    def liveness(self) -> Tuple[float, int]: ...
    def set_brokers(self, broker: Union[str, Sequence[str]]) -> None: ...
    @property
    def sid(self) -> Optional[str]: ...
    @property
    def timeout(self) -> float: ...
    def call(
        self,
        verb: str,
        payload: Any,
        sid: Optional[str],
        headers: Optional[Dict[str, Any]],
        timeout: Optional[float],
        retries: int = 0,
    ) -> Reply:
        """Blocking call: GIL released while waiting, interruptible by signals."""
    def submit(
        self,
        queue: CompletionQueue,
        token: int,
        verb: str,
        payload: Any,
        sid: Optional[str],
        headers: Optional[Dict[str, Any]],
        timeout: Optional[float],
        retries: int = 0,
    ) -> None:
        """Sends a call whose outcome is pushed onto ``queue`` under ``token``."""
    def close(self) -> None:
        """Closes the socket. Idempotent."""

class Broker:
    """An in-process broker, bound at construction."""

    def __init__(
        self,
        frontend: str,
        backend: str,
        heartbeat: Optional[float] = None,
        max_ttl: Optional[float] = None,
        curve_secret: Optional[str] = None,
        allow: Optional[str] = None,
    ) -> None:
        """``curve_secret``: a key spec; ``allow``: the path of an allow list."""
    @property
    def frontend(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def stats(self) -> Dict[str, int]: ...

class Request:
    """What a handler learns about the request besides its payload."""

    @property
    def client(self) -> str:
        """The calling client's identity (``<prefix>#<uuid>``)."""
    @property
    def rid(self) -> str:
        """The request id."""
    @property
    def sid(self) -> str:
        """The service id as addressed (upper-case)."""
    @property
    def verb(self) -> str:
        """The verb as addressed (upper-case)."""
    @property
    def headers(self) -> Dict[str, Any]:
        """The request headers."""

class Response:
    """A handler's answer with a chosen 2xx status and/or reply headers.

    ``return zss.Response({"id": 7}, status=201, headers={"location": "/items/7"})``.
    ``status`` None means 200, or 204 when ``payload`` is None. ``headers`` (copied into a
    dict) are added to, or replace, the request headers that the reply echoes. A status that
    is not a 2xx raises ValueError here (raise :class:`zss.ServiceError` for error replies);
    headers that are not a mapping raise TypeError. Payload and header values are checked
    when sent: one that cannot be sent answers 500 and is logged.
    """

    def __init__(
        self,
        payload: Any = None,
        *,
        status: Optional[int] = None,
        headers: Optional[Mapping[str, Any]] = None,
    ) -> None: ...
    @property
    def payload(self) -> Any:
        """The reply payload."""
    @property
    def status(self) -> Optional[int]:
        """The 2xx status, or None: 200, or 204 when the payload is None."""
    @property
    def headers(self) -> Dict[str, Any]:
        """Reply headers, added to (or replacing) the request headers the reply echoes."""

class Responder:
    """Answers one request exactly once, from any thread."""

    def reply(self, result: Any) -> None:
        """Answers with a payload, a :class:`Response`, a ``(2xx status, payload)`` tuple,
        or None (204)."""
    def fail(self, error: BaseException) -> None:
        """Answers with a ServiceError's code and payload, or a generic 500."""
    @property
    def answered(self) -> bool: ...

class RunningWorker:
    """A worker serving in the background."""

    @property
    def identity(self) -> str: ...
    def set_brokers(self, brokers: List[str]) -> None:
        """Registers with new brokers, disconnects from the ones no longer listed."""
    def stop(self) -> None:
        """Asks the worker to stop; returns at once."""
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Waits (interruptibly) until stopped; True if it has."""
    def join(self) -> None:
        """Stops and waits for the worker's thread."""
    def error(self) -> Optional[BaseException]:
        """Why the worker stopped by itself (``zss.AuthenticationError``), or None."""
    def stats(self) -> Dict[str, int]: ...

def start_worker(
    sid: str,
    broker: Union[str, Sequence[str]],
    heartbeat: float,
    concurrency: int,
    handlers: Sequence[Tuple[str, Callable[..., Any]]],
    dispatch: Callable[[Callable[..., Any], Any, Request, Responder], None],
    curve: Optional[Tuple[str, str, Optional[str]]] = None,
) -> RunningWorker:
    """Builds the core worker and starts it; every request calls ``dispatch``."""

def endpoints(obj: Union[str, Sequence[str]], what: str) -> List[str]:
    """Broker endpoints from a (comma-separated) ``str`` or a list/tuple of ``str``:
    TypeError for other types, ValueError when none is named."""

def status_messages(code: int) -> Tuple[str, str]:
    """``(user_message, developer_message)`` the core uses for a status code."""

def has_curve() -> bool:
    """Whether the linked libzmq supports CURVE."""

def generate_keypair() -> Tuple[str, str]:
    """A fresh CURVE key pair as Z85 text: ``(public_key, secret_key)``."""
