"""zss — the ZeroMQ Service Suite (ZSS/0.0) for Python.

A client, a service (worker) and an in-process broker, wire-compatible with the original
Node.js and Ruby packages. The protocol lives in the Rust core; this package is its binding.

>>> import zss
>>> with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") as broker:  # doctest: +SKIP
...     service = zss.Service("pong", broker.backend)
...     service.add_verb("ping", lambda payload, request: payload)
...     with service, zss.Client(broker.frontend, sid="pong") as client:
...         client.call("ping", "hello").payload
'hello'

Payloads are None, bool, int, float, str, list/tuple and dict (replies give lists and dicts).
``bytes`` cannot be sent: the peers' msgpack dialect has no portable binary type (send base64
text instead), so it raises TypeError. Integers must fit in 64 bits (ValueError otherwise);
beyond the int32 range they travel as float64, as the original peers send them, and so come
back as floats.

CURVE encryption: ``keys = zss.generate_keypair()``; ``zss.Broker(..., curve_secret=...)``,
``zss.Client(..., curve=zss.Curve(broker_public_key, keys))``, ``zss.Service(..., curve=...)``.

Several brokers: ``zss.Client(["tcp://a:7777", "tcp://b:7777"])`` spreads calls over the ones
that are up; ``zss.Service("pong", ["tcp://a:7776", "tcp://b:7776"])`` registers with each. A
call in flight on a broker that is lost raises :class:`BrokerLostError` at once, unless given
``retries=N`` (or ``idempotent=True``): then it is re-sent to another broker.
"""

from . import _native
from ._errors import AuthenticationError, BrokerLostError, ClosedError, ServiceError, SocketError, Timeout, ZssError
from ._native import has_curve
from ._security import Curve, KeyPair, KeySpec, generate_keypair
from .broker import Broker
from .client import Brokers, Client, Reply
from .service import Handler, Request, Response, Service

__version__: str = _native.__version__

__all__ = [
    "Broker",
    "BrokerLostError",
    "Brokers",
    "Client",
    "ClosedError",
    "Curve",
    "Handler",
    "KeyPair",
    "KeySpec",
    "Reply",
    "Request",
    "Response",
    "Service",
    "ServiceError",
    "SocketError",
    "AuthenticationError",
    "Timeout",
    "ZssError",
    "__version__",
    "generate_keypair",
    "has_curve",
]
