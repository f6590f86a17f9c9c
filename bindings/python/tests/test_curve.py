"""CURVE from Python: an encrypted broker, service and client on real sockets; keys as Z85
text, files, ``env:VAR`` and KeyPairs; refused keys fail fast; plaintext gets nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

import zss
from conftest import wait_for

pytestmark = pytest.mark.skipif(not zss.has_curve(), reason="this zss links a libzmq without CURVE")


@pytest.fixture
def keys() -> dict:
    return {name: zss.generate_keypair() for name in ("broker", "service", "client", "stranger")}


@pytest.fixture
def allow_file(tmp_path: Path, keys: dict) -> Path:
    path = tmp_path / "allow.txt"
    path.write_text(
        f"# who may do what\n{keys['service'].public_key} name=svc serve=SECRET\n"
        f"{keys['client'].public_key} name=cli call=SECRET\n"
    )
    return path


@pytest.fixture
def curve_broker(keys: dict, allow_file: Path) -> Iterator[zss.Broker]:
    with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", curve_secret=keys["broker"], allow=allow_file) as b:
        yield b


@pytest.fixture
def secret_service(curve_broker: zss.Broker, keys: dict) -> Iterator[zss.Service]:
    service = zss.Service("secret", curve_broker.backend, heartbeat=0.2, curve=zss.Curve(keys["broker"].public_key, keys["service"]))
    service.add_verb("echo", lambda payload, request: {"echo": payload, "client": request.client})
    with service:
        wait_for(lambda: curve_broker.stats()["workers"] == 1, what="the CURVE service's registration")
        yield service


def elapsed(f: Callable[[], object]) -> float:
    t = time.monotonic()
    f()
    return time.monotonic() - t


def test_generate_keypair_gives_distinct_z85_pairs() -> None:
    a, b = zss.generate_keypair(), zss.generate_keypair()
    assert isinstance(a, zss.KeyPair) and isinstance(a, tuple)
    assert len(a.public_key) == len(a.secret_key) == 40
    assert len({a.public_key, a.secret_key, b.public_key, b.secret_key}) == 4
    assert a.secret_key not in repr(a) and a.public_key in repr(a)


def test_encrypted_round_trip(curve_broker: zss.Broker, secret_service: zss.Service, keys: dict) -> None:
    curve = zss.Curve(keys["broker"].public_key, keys["client"])
    with zss.Client(curve_broker.frontend, sid="secret", timeout=5.0, identity="enc", curve=curve) as client:
        reply = client.call("echo", {"n": [1, 2.5, "three"]})
        assert reply.payload == {"echo": {"n": [1, 2.5, "three"]}, "client": client.identity}
        assert client.call("echo", "again").payload["echo"] == "again"


@pytest.mark.asyncio
async def test_encrypted_round_trip_with_acall(curve_broker: zss.Broker, secret_service: zss.Service, keys: dict) -> None:
    curve = (keys["broker"].public_key, keys["client"].secret_key)  # a plain tuple, a secret alone
    with zss.Client(curve_broker.frontend, sid="secret", timeout=5.0, curve=curve) as client:
        assert (await client.acall("echo", 7)).payload["echo"] == 7


def test_keys_from_files_and_environment(
    curve_broker: zss.Broker, secret_service: zss.Service, keys: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker_pub = tmp_path / "broker.pub"
    broker_pub.write_text(keys["broker"].public_key + "\n")
    monkeypatch.setenv("ZSS_TEST_CLIENT_SECRET", keys["client"].secret_key)
    for curve in (zss.Curve(broker_pub, "env:ZSS_TEST_CLIENT_SECRET"), zss.Curve(str(broker_pub), keys["client"])):
        with zss.Client(curve_broker.frontend, sid="secret", timeout=5.0, curve=curve) as client:
            assert client.call("echo", "from a file").payload["echo"] == "from a file"


def test_wrong_broker_key_fails_fast(curve_broker: zss.Broker, secret_service: zss.Service, keys: dict) -> None:
    curve = zss.Curve(keys["stranger"].public_key, keys["client"])
    with zss.Client(curve_broker.frontend, sid="secret", timeout=10.0, curve=curve) as client:
        took = elapsed(lambda: pytest.raises(zss.AuthenticationError, client.call, "echo", 1))
        assert took < 3.0, f"took {took:.2f} s, the call timeout is 10 s"
        # And calls made afterwards fail the same way, at once.
        assert elapsed(lambda: pytest.raises(zss.AuthenticationError, client.call, "echo", 2)) < 1.0


def test_unlisted_key_is_refused_fast(curve_broker: zss.Broker, secret_service: zss.Service, keys: dict) -> None:
    curve = zss.Curve(keys["broker"].public_key, keys["stranger"])
    with zss.Client(curve_broker.frontend, sid="secret", timeout=10.0, curve=curve) as client:
        took = elapsed(lambda: pytest.raises(zss.AuthenticationError, client.call, "echo", 1))
        assert took < 3.0
    assert curve_broker.stats()["auth_failures_frontend"] >= 1


def test_plaintext_client_on_a_curve_endpoint_gets_no_reply(curve_broker: zss.Broker, secret_service: zss.Service) -> None:
    # The client's connection monitor sees the plaintext/CURVE mismatch and fails the calls
    # with AuthenticationError (401); a call sent before it noticed is lost (599), or finds no
    # peer to queue to (503, "send queue is full").
    with zss.Client(curve_broker.frontend, sid="secret", timeout=0.5) as client:
        for _ in range(3):
            with pytest.raises((zss.ServiceError, zss.AuthenticationError)) as info:
                client.call("echo", "in clear")
            assert isinstance(info.value, zss.AuthenticationError) or info.value.code in (503, 599)
    assert curve_broker.stats()["requests"] == 0


def test_plaintext_service_on_a_curve_backend_never_registers(curve_broker: zss.Broker) -> None:
    service = zss.Service("secret", curve_broker.backend, heartbeat=0.1)
    service.add_verb("echo", lambda payload, request: payload)
    with service:
        time.sleep(0.5)
        assert curve_broker.stats()["workers"] == 0


def test_service_refused_for_its_sid_stops_with_authentication_error(curve_broker: zss.Broker, keys: dict) -> None:
    # The service key may serve SECRET only.
    service = zss.Service("other", curve_broker.backend, heartbeat=0.2, curve=zss.Curve(keys["broker"].public_key, keys["service"]))
    service.add_verb("echo", lambda payload, request: payload)
    took = elapsed(lambda: pytest.raises(zss.AuthenticationError, service.run))
    assert took < 5.0
    assert isinstance(service.error, zss.AuthenticationError)
    assert curve_broker.stats()["workers"] == 0


def test_service_with_a_wrong_broker_key_stops(curve_broker: zss.Broker, keys: dict) -> None:
    service = zss.Service("secret", curve_broker.backend, heartbeat=0.2, curve=zss.Curve(keys["stranger"].public_key, keys["service"]))
    service.add_verb("echo", lambda payload, request: payload)
    with service:
        wait_for(lambda: service.error is not None, what="the refused service's error")
        assert isinstance(service.error, zss.AuthenticationError)
    assert isinstance(service.error, zss.AuthenticationError)


def test_curve_argument_errors(keys: dict, tmp_path: Path) -> None:
    pub, pair = keys["broker"].public_key, keys["client"]
    frontend = "tcp://127.0.0.1:1"
    bad_types = ["not a tuple", (pub,), (pub, pair, pair), (1, pair), (pub, 2), (pub, (1, 2)), (pub, (pub,)), {"broker_key": pub}]
    for curve in bad_types:
        with pytest.raises(TypeError):
            zss.Client(frontend, curve=curve)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            zss.Service("x", frontend, curve=curve)  # type: ignore[arg-type]
    bad_keys = [
        zss.Curve("short", pair),
        zss.Curve(pub, "not a key"),
        zss.Curve(pub[:-1] + "\x7f", pair),
        zss.Curve(pub, "env:ZSS_TEST_NOT_SET"),
        zss.Curve(str(tmp_path / "missing.pub"), pair),
        zss.Curve(pub, zss.KeyPair(keys["stranger"].public_key, pair.secret_key)),  # not a pair
    ]
    for curve in bad_keys:
        with pytest.raises(ValueError, match="curve"):
            zss.Client(frontend, curve=curve)
        service = zss.Service("x", frontend, curve=curve)  # keys are checked at start
        service.add_verb("echo", lambda payload, request: payload)
        with pytest.raises(ValueError, match="curve"):
            service.start()
        assert not service.running
    # A secret key must not end up in the message.
    with pytest.raises(ValueError) as info:
        zss.Client(frontend, curve=zss.Curve(pub, pair.secret_key[:-1]))
    assert pair.secret_key[:-1] not in str(info.value)


def test_broker_curve_argument_errors(keys: dict, tmp_path: Path) -> None:
    wild = ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    with pytest.raises(ValueError, match="curve_secret"):
        zss.Broker(*wild, curve_secret="not a key")
    with pytest.raises(TypeError):
        zss.Broker(*wild, curve_secret=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        zss.Broker(*wild, curve_secret=keys["broker"], allow=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("notakey name=x\n")
    with pytest.raises(ValueError):
        zss.Broker(*wild, curve_secret=keys["broker"], allow=bad)
    good = tmp_path / "good.txt"
    good.write_text(keys["client"].public_key + "\n")
    with pytest.raises(ValueError):
        zss.Broker(*wild, allow=good)  # an allow list needs CURVE
