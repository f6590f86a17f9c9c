"""Blocking client: round trips, payload mapping, errors and codes, timeouts, threads."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import zss


@pytest.mark.parametrize(
    "payload",
    [
        True,
        False,
        0,
        -1,
        127,
        -(2**31),
        2**31 - 1,
        1.5,
        -0.25,
        "",
        "héllo ✓",
        "x" * 70_000,
        [],
        [1, "two", 3.0, None, [False]],
        {},
        {"a": {"b": [1, {"c": None}]}, "n": 2},
        {1: "int key"},
    ],
)
def test_round_trip(client: zss.Client, payload: object) -> None:
    reply = client.call("echo", payload)
    assert reply.status == 200
    assert reply.payload == payload
    assert type(reply.payload) is type(payload)


def test_none_payload_is_204(client: zss.Client) -> None:
    reply = client.call("echo")
    assert (reply.status, reply.payload) == (204, None)


def test_tuple_goes_as_list(client: zss.Client) -> None:
    assert client.call("echo", (1, (2, 3))).payload == [1, [2, 3]]


def test_ints_beyond_int32_travel_as_float64(client: zss.Client) -> None:
    # The peers' dialect (msgpack-js) has no 64-bit ints: the core sends float64.
    reply = client.call("echo", {"big": 2**40, "u": 2**63 + 1})
    assert reply.payload == {"big": float(2**40), "u": float(2**63 + 1)}
    assert isinstance(reply.payload["big"], float)


def test_ints_beyond_64_bits_are_refused(client: zss.Client) -> None:
    with pytest.raises(ValueError, match=r"payload\['n'\]: integer .* does not fit in 64 bits"):
        client.call("echo", {"n": 2**64})


@pytest.mark.parametrize("binary", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_binary_is_refused_with_a_clear_error(client: zss.Client, binary: object) -> None:
    with pytest.raises(TypeError, match="binary data cannot be sent.*base64"):
        client.call("echo", [binary])


def test_unsupported_type_names_its_place(client: zss.Client) -> None:
    with pytest.raises(TypeError, match=r"payload\['k'\]\[1\]: unsupported type 'set'"):
        client.call("echo", {"k": [1, {2}]})


def test_self_referencing_payload_is_refused(client: zss.Client) -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested deeper"):
        client.call("echo", loop)


def test_headers_reach_the_handler_and_come_back(broker, start_service) -> None:
    service = zss.Service("hdr", broker.backend, heartbeat=0.2)
    seen = {}

    @service.verb("look")
    def look(payload, request):
        seen.update(headers=request.headers, rid=request.rid, client=request.client, sid=request.sid, verb=request.verb)
        return "ok"

    start_service(service)
    with zss.Client(broker.frontend, sid="hdr", identity="tester", headers={"tenant": "a", "n": 1}) as c:
        reply = c.call("look", headers={"n": 2, "trace": [1, 2]})
        assert seen["headers"]["tenant"] == "a"
        assert seen["headers"]["n"] == 2  # the call's headers win
        assert seen["headers"]["trace"] == [1, 2]
        assert seen["rid"] == reply.rid
        assert seen["client"] == c.identity and c.identity.startswith("tester#")
        assert (seen["sid"], seen["verb"]) == ("HDR", "LOOK")
        assert reply.headers["tenant"] == "a"
        assert isinstance(reply.headers["response-time"], float)


def test_unknown_service_is_404_from_the_broker(client: zss.Client) -> None:
    with pytest.raises(zss.ServiceError) as err:
        client.call("echo", sid="nobody-home")
    assert err.value.code == 404
    assert err.value.user_message == "The content you requested was not found."
    assert err.value.payload["errorCode"] == 404


def test_unknown_verb_is_404_from_the_service(client: zss.Client) -> None:
    with pytest.raises(zss.ServiceError) as err:
        client.call("nope")
    assert err.value.code == 404


def test_timeout_raises_599(client: zss.Client) -> None:
    started = time.monotonic()
    with pytest.raises(zss.Timeout) as err:
        client.call("slow", 1.0, timeout=0.2)
    elapsed = time.monotonic() - started
    assert isinstance(err.value, zss.ServiceError)
    assert err.value.code == 599
    assert 0.2 <= elapsed < 0.8


def test_client_default_timeout(broker, echo) -> None:
    with zss.Client(broker.frontend, sid="echo", timeout=0.15) as c:
        assert c.timeout == pytest.approx(0.15)
        with pytest.raises(zss.Timeout):
            c.call("slow", 1.0)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"timeout": float("nan")}, ValueError, "timeout must be a positive number"),
        ({"headers": [("a", 1)]}, TypeError, "headers must be a dict"),
        ({"headers": {1: "a"}}, TypeError, "header names must be str"),
        ({"headers": {"a": b"x"}}, TypeError, r"headers\[\"a\"\]: binary data"),
        ({"sid": ""}, ValueError, "must not be empty"),
    ],
)
def test_bad_arguments(client: zss.Client, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        client.call("echo", 1, **kwargs)


def test_no_service_id_anywhere(broker) -> None:
    with zss.Client(broker.frontend) as c:
        with pytest.raises(ValueError, match="no service id"):
            c.call("echo")


def test_bad_client_arguments(broker) -> None:
    with pytest.raises(ValueError, match="timeout"):
        zss.Client(broker.frontend, timeout=-1)
    with pytest.raises(ValueError, match="identity"):
        zss.Client(broker.frontend, identity="")
    with pytest.raises(zss.SocketError, match="connect"):
        zss.Client("nonsense://where")


def test_closed_client(broker, echo) -> None:
    c = zss.Client(broker.frontend, sid="echo")
    c.close()
    c.close()  # idempotent
    with pytest.raises(zss.ClosedError):
        c.call("echo", 1)


def test_many_threads_share_one_client(client: zss.Client) -> None:
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                payload = {"thread": n, "i": i}
                assert client.call("echo", payload).payload == payload
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_gil_is_released_while_waiting(client: zss.Client) -> None:
    ticks = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    try:
        client.call("slow", 0.3)
    finally:
        stop.set()
        t.join()
    assert ticks > 50


def test_ctrl_c_interrupts_a_blocking_call(client: zss.Client) -> None:
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.call("slow", 3.0, timeout=10.0)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.0
    # The client is still usable afterwards.
    assert client.call("echo", "after").payload == "after"


def test_error_classes() -> None:
    e = zss.ServiceError(404)
    assert (e.code, e.user_message) == (404, "The content you requested was not found.")
    assert str(e).startswith("404 ")
    t = zss.Timeout()
    assert t.code == 599 and isinstance(t, zss.ServiceError) and isinstance(t, zss.ZssError)
    with pytest.raises(ValueError):
        zss.ServiceError("404")  # type: ignore[arg-type]


def test_management_calls(client: zss.Client, broker: zss.Broker) -> None:
    assert client.management("PING") == "PONG"
    info = client.management("INFO")
    assert info["version"] == zss.__version__
    assert info["frontend"] == broker.frontend
    client.call("echo", 1)
    services = client.management("SERVICES")
    assert [w["identity"].split("#")[0] for w in services["ECHO"]] == ["ECHO"]
    stats = client.management("STATS")
    assert stats["services"]["ECHO"]["replies"]["2xx"] >= 1
    assert stats["broker"]["workers"] == 1
    with pytest.raises(zss.ServiceError) as err:
        client.management("REBOOT")
    assert err.value.code == 404
