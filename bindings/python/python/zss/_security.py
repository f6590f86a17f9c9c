"""CURVE: key pairs and the ``curve`` option of :class:`Client` and :class:`Service`."""

from __future__ import annotations

import os
from typing import NamedTuple, Optional, Tuple, Union

from . import _native

__all__ = ["KeyPair", "Curve", "KeySpec", "generate_keypair"]

#: A key: the 40-character Z85 text, the path of a key file (``zss keygen``'s ``NAME.key`` /
#: ``NAME.pub``), or ``"env:VAR"`` (an environment variable holding the Z85 text).
KeySpec = Union[str, "os.PathLike[str]"]


class KeyPair(NamedTuple):
    """A CURVE key pair as Z85 text. Keep ``secret_key`` private."""

    public_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"KeyPair(public_key={self.public_key!r}, secret_key=<hidden>)"


class Curve(NamedTuple):
    """The ``curve`` option: the broker's public key and this peer's key pair.

    ``keypair`` is a :class:`KeyPair` (its public key must belong to its secret key) or a
    secret key alone (a :data:`KeySpec`; the public key is derived). A plain
    ``(broker_key, keypair)`` tuple works too.
    """

    broker_key: KeySpec
    keypair: Union[KeyPair, KeySpec]


def generate_keypair() -> KeyPair:
    """A fresh CURVE key pair (needs a libzmq with CURVE: see :func:`has_curve`)."""
    return KeyPair(*_native.generate_keypair())


def key_spec(value: object, what: str, kind: str = "a Z85 key, a key file or 'env:VAR'") -> str:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    raise TypeError(f"{what} must be a str or a path ({kind}), not {type(value).__name__}")


def secret_spec(value: object, what: str) -> str:
    """A secret key given as a :class:`KeyPair` or a :data:`KeySpec`."""
    return key_spec(value.secret_key if isinstance(value, KeyPair) else value, what)


def curve_args(curve: object) -> Optional[Tuple[str, str, Optional[str]]]:
    """``curve`` → ``(broker_key, secret_key, public_key or None)`` for the native side."""
    if curve is None:
        return None
    if not isinstance(curve, tuple) or len(curve) != 2:
        raise TypeError(
            f"curve must be a zss.Curve(broker_key, keypair) or a (broker_key, keypair) tuple, not {type(curve).__name__}"
        )
    broker_key, keypair = curve
    if isinstance(keypair, tuple):
        if len(keypair) != 2:
            raise TypeError("curve keypair must be a zss.KeyPair(public_key, secret_key) or a secret key")
        public, secret = keypair
        return key_spec(broker_key, "curve broker_key"), key_spec(secret, "curve secret_key"), key_spec(public, "curve public_key")
    return key_spec(broker_key, "curve broker_key"), key_spec(keypair, "curve keypair"), None
