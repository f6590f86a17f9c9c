"""Services: handler results and errors, async handlers, lifecycle, signals, transports."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time

import pytest

import zss

from conftest import wait_for


@pytest.fixture
def svc(broker, start_service):
    """Service SVC with one verb per handler convention."""
    service = zss.Service("svc", broker.backend, heartbeat=0.2)

    @service.verb("created")
    def created(payload, request):
        return 201, {"id": payload}

    @service.verb("invalid")
    def invalid(payload, request):
        raise zss.ServiceError(422, developer_message="name is required", payload={"validationErrors": ["name"]})

    @service.verb("forbidden")
    def forbidden(payload, request):
        raise zss.ServiceError(403)

    @service.verb("crash")
    def crash(payload, request):
        raise RuntimeError("secret internal detail")

    @service.verb("bad-status")
    def bad_status(payload, request):
        return 404, "not how errors are sent"

    @service.verb("unsendable")
    def unsendable(payload, request):
        return {"when": object()}

    @service.verb("response")
    def response(payload, request):
        return zss.Response({"id": payload}, status=202, headers={"location": f"/items/{payload}", "n": [1, 2.5]})

    @service.verb("headers-only")
    def headers_only(payload, request):
        # No status: 200, or 204 for a None payload; a reply header replaces a request header.
        return zss.Response(payload, headers={"x-seen": request.headers.get("x-seen"), "x-replaced": "by service"})

    @service.verb("unsendable-header")
    def unsendable_header(payload, request):
        return zss.Response("ok", headers={"when": object()})

    @service.verb("bad-response-status")
    def bad_response_status(payload, request):
        return zss.Response("x", status=404)

    def nothing(payload, request):
        return None

    service.add_verb("nothing", nothing)
    return start_service(service)


@pytest.fixture
def client(broker, svc):
    with zss.Client(broker.frontend, sid="svc", timeout=5.0) as c:
        yield c


def test_status_tuple(client) -> None:
    reply = client.call("created", 7)
    assert (reply.status, reply.payload) == (201, {"id": 7})


def test_response_sets_status_payload_and_headers(client) -> None:
    reply = client.call("response", 7)
    assert (reply.status, reply.payload) == (202, {"id": 7})
    assert reply.headers["location"] == "/items/7"
    assert reply.headers["n"] == [1, 2.5]
    assert isinstance(reply.headers["response-time"], float)


def test_response_without_status_is_200_or_204(client) -> None:
    reply = client.call("headers-only", "p", headers={"x-seen": 1, "x-replaced": "by client"})
    assert (reply.status, reply.payload) == (200, "p")
    assert reply.headers["x-seen"] == 1
    assert reply.headers["x-replaced"] == "by service"
    reply = client.call("headers-only", None)
    assert (reply.status, reply.payload) == (204, None)


def test_response_arguments() -> None:
    r = zss.Response([1], status=201, headers={"k": "v"})
    assert (r.payload, r.status, r.headers) == ([1], 201, {"k": "v"})
    assert repr(r) == "Response([1], status=201, headers={'k': 'v'})"
    empty = zss.Response()
    assert (empty.payload, empty.status, empty.headers) == (None, None, {})
    mine = {"k": 1}
    copied = zss.Response(headers=mine)
    mine["k"] = 2
    assert copied.headers == {"k": 1}
    with pytest.raises(ValueError, match="2xx"):
        zss.Response("x", status=500)
    with pytest.raises(ValueError, match="2xx"):
        zss.Response("x", status=70000)
    with pytest.raises(TypeError, match="int"):
        zss.Response("x", status="201")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int"):
        zss.Response("x", status=True)
    with pytest.raises(TypeError, match="headers"):
        zss.Response("x", headers=[("k", "v")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        zss.Response("x", 201)  # type: ignore[misc]  # status is keyword-only


def test_async_handler_returns_response(broker, start_service) -> None:
    service = zss.Service("aresp", broker.backend, heartbeat=0.2)

    @service.verb("make")
    async def make(payload, request):
        await asyncio.sleep(0)
        return zss.Response(payload, status=201, headers={"x-async": True})

    start_service(service)
    with zss.Client(broker.frontend, sid="aresp", timeout=5.0) as c:
        reply = c.call("make", "thing")
    assert (reply.status, reply.payload, reply.headers["x-async"]) == (201, "thing", True)


def test_none_result_is_204(client) -> None:
    assert client.call("nothing", 1).status == 204


def test_service_error_keeps_code_messages_and_fields(client) -> None:
    with pytest.raises(zss.ServiceError) as err:
        client.call("invalid")
    e = err.value
    assert e.code == 422
    assert e.user_message == "The request could not be processed."
    assert e.developer_message == "name is required"
    assert e.payload["validationErrors"] == ["name"]
    assert e.payload["code"] == e.payload["errorCode"] == 422


def test_standard_error_codes(client) -> None:
    with pytest.raises(zss.ServiceError) as err:
        client.call("forbidden")
    assert err.value.code == 403
    assert err.value.user_message == "You do not have access to this resource."


def test_handler_exception_is_500_and_logged(client, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="zss"):
        with pytest.raises(zss.ServiceError) as err:
            client.call("crash")
    assert err.value.code == 500
    # The detail goes to the log, never to the caller.
    assert "secret" not in str(err.value.payload)
    wait_for(lambda: any("secret internal detail" in r.getMessage() or (r.exc_info and "secret" in str(r.exc_info[1])) for r in caplog.records), what="log record")
    record = next(r for r in caplog.records if r.exc_info)
    assert "SVC:CRASH" in record.getMessage()


@pytest.mark.parametrize(
    "verb, logged",
    [
        ("bad-status", "must be a 2xx"),
        ("unsendable", "unsupported type 'object'"),
        ("unsendable-header", "headers[\"when\"]: unsupported type 'object'"),
        ("bad-response-status", "must be a 2xx"),
    ],
)
def test_unsendable_results_are_500_and_logged(client, caplog, verb, logged) -> None:
    with caplog.at_level(logging.ERROR, logger="zss"):
        with pytest.raises(zss.ServiceError) as err:
            client.call(verb)
    assert err.value.code == 500
    # Unsendable results are logged by message; a Response refused at construction is a
    # handler exception (logged with its traceback).
    wait_for(
        lambda: any(logged in r.getMessage() or (r.exc_info and logged in str(r.exc_info[1])) for r in caplog.records),
        what="log record",
    )


def test_async_handlers(broker, start_service) -> None:
    service = zss.Service("aio", broker.backend, heartbeat=0.2, concurrency=64)
    loops = set()

    @service.verb("sleep")
    async def sleep(payload, request):
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(payload)
        return {"slept": payload, "rid": request.rid}

    @service.verb("fail")
    async def fail(payload, request):
        await asyncio.sleep(0)
        if payload == "service":
            raise zss.ServiceError(409)
        raise ValueError("boom")

    start_service(service)
    with zss.Client(broker.frontend, sid="aio", timeout=5.0) as c:
        # 50 handlers sleeping 0.3 s each run concurrently on the service's one loop.
        results = []
        started = time.monotonic()
        threads = [threading.Thread(target=lambda: results.append(c.call("sleep", 0.3))) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - started < 2.0
        assert len(results) == 50 and all(r.payload["slept"] == 0.3 for r in results)
        assert len({r.payload["rid"] for r in results}) == 50
        assert len(loops) == 1
        with pytest.raises(zss.ServiceError) as err:
            c.call("fail", "service")
        assert err.value.code == 409
        with pytest.raises(zss.ServiceError) as err:
            c.call("fail", "other")
        assert err.value.code == 500


def test_async_handlers_on_the_callers_loop(broker) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        service = zss.Service("mine", broker.backend, heartbeat=0.2, loop=loop)

        @service.verb("where")
        async def where(payload, request):
            return asyncio.get_running_loop() is loop

        service.start()
        try:
            await asyncio.sleep(0.2)  # registration
            async with zss.Client(broker.frontend, sid="mine") as c:
                assert (await c.acall("where")).payload is True
        finally:
            # On the loop's own thread stop() only requests the stop; wait off-loop.
            await loop.run_in_executor(None, service.stop)

    asyncio.run(main())


def test_concurrency_limits_handlers_in_flight(broker, start_service) -> None:
    service = zss.Service("narrow", broker.backend, heartbeat=0.2, concurrency=2)
    running = 0
    peak = 0
    lock = threading.Lock()

    @service.verb("work")
    def work(payload, request):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    start_service(service)
    with zss.Client(broker.frontend, sid="narrow", timeout=5.0) as c:
        threads = [threading.Thread(target=c.call, args=("work",)) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak == 2


def test_verbs_cannot_be_added_while_running(svc) -> None:
    with pytest.raises(RuntimeError, match="running"):
        svc.add_verb("late", lambda p, r: p)


def test_service_argument_errors(broker) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        zss.Service("x", broker.backend, concurrency=0)
    with pytest.raises(RuntimeError, match="no verbs"):
        zss.Service("x", broker.backend).start()
    s = zss.Service("smi", broker.backend)
    s.add_verb("v", lambda p, r: p)
    with pytest.raises(ValueError, match="invalid service id"):
        s.start()
    with pytest.raises(TypeError, match="callable"):
        s.add_verb("v", "not a function")  # type: ignore[arg-type]


def _service(broker, sid: str) -> zss.Service:
    service = zss.Service(sid, broker.backend, heartbeat=0.2)
    service.add_verb("ping", lambda payload, request: "pong")
    return service


def test_run_returns_on_sigterm(broker) -> None:
    service = _service(broker, "term")
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    previous = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    service.run()
    assert not service.running
    assert time.monotonic() - started < 4.0
    assert signal.getsignal(signal.SIGTERM) is previous
    wait_for(lambda: broker.stats()["workers"] == 0, what="SMI DOWN")


def test_run_returns_on_sigint(broker) -> None:
    service = _service(broker, "int")
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    service.run()  # no KeyboardInterrupt: SIGINT stops the service
    assert not service.running


def test_run_returns_on_stop_from_another_thread(broker) -> None:
    service = _service(broker, "other")
    t = threading.Thread(target=service.run)
    t.start()
    wait_for(lambda: broker.stats()["workers"] == 1, what="registration")
    service.stop()
    t.join(5)
    assert not t.is_alive()


def test_stop_from_a_handler(broker) -> None:
    service = zss.Service("selfstop", broker.backend, heartbeat=0.2)

    @service.verb("quit")
    def quit_(payload, request):
        service.stop()
        return "bye"

    t = threading.Thread(target=service.run)
    t.start()
    wait_for(lambda: broker.stats()["workers"] == 1, what="registration")
    with zss.Client(broker.frontend, sid="selfstop") as c:
        assert c.call("quit").payload == "bye"
    t.join(5)
    assert not t.is_alive() and not service.running


@pytest.mark.parametrize("transport", ["ipc", "inproc"])
def test_other_transports(tmp_path, transport) -> None:
    if transport == "ipc":
        frontend, backend = f"ipc://{tmp_path}/fe", f"ipc://{tmp_path}/be"
    else:
        frontend, backend = f"inproc://fe-{os.getpid()}", f"inproc://be-{os.getpid()}"
    with zss.Broker(frontend, backend) as broker:
        assert broker.frontend == frontend
        with _service(broker, "tr"):
            wait_for(lambda: broker.stats()["workers"] == 1, what="registration")
            with zss.Client(broker.frontend, sid="tr") as c:
                assert c.call("ping").payload == "pong"


def test_broker_errors_and_lifecycle() -> None:
    b = zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    assert not b.running and b.frontend.startswith("tcp://127.0.0.1:")
    with pytest.raises(zss.SocketError, match="bind"):
        zss.Broker(b.frontend, "tcp://127.0.0.1:*")
    b.start()
    assert b.running
    b.stop()
    assert not b.running
    with pytest.raises(RuntimeError, match="stopped"):
        b.start()
    with pytest.raises(ValueError, match="max_ttl"):
        zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", max_ttl=0)


def test_stop_cancels_async_handlers_still_running(broker, start_service) -> None:
    service = zss.Service("stuck", broker.backend, heartbeat=0.2)
    cleaned_up = threading.Event()

    @service.verb("hang")
    async def hang(payload, request):
        try:
            await asyncio.sleep(60)
        finally:
            cleaned_up.set()

    start_service(service)
    outcome = []
    with zss.Client(broker.frontend, sid="stuck", timeout=10.0) as c:
        caller = threading.Thread(target=lambda: outcome.append(pytest.raises(zss.ServiceError, c.call, "hang").value))
        caller.start()
        wait_for(lambda: service.stats()["requests"] == 1, what="request")
        started = time.monotonic()
        service.stop()  # drains for the core's stop_timeout, then cancels the handler
        assert time.monotonic() - started < 5.0
        assert cleaned_up.is_set()
        caller.join(5)
    # The caller is answered (503: the instance stopped before replying), not left to time out.
    assert outcome and outcome[0].code == 503
