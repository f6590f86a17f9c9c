"""Several brokers: two `zss broker` processes, a service registered with both, a client given
both. One broker is SIGKILLed with calls in flight: plain calls end with a reply or
BrokerLostError at once (not at their timeout), calls with retries all succeed, and later
calls all succeed on the survivor."""

from __future__ import annotations

import asyncio
import os
import pathlib
import socket
import subprocess
import threading
import time
from typing import Iterator, List, Tuple

import pytest

import zss

from conftest import wait_for

ROOT = pathlib.Path(__file__).resolve().parents[3]
ZSS_BIN = os.environ.get("ZSS_BIN", str(ROOT / "target" / "debug" / "zss"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BrokerProc:
    """A `zss broker` process on free loopback ports, with fast worker liveness."""

    def __init__(self) -> None:
        self.frontend = f"tcp://127.0.0.1:{free_port()}"
        self.backend = f"tcp://127.0.0.1:{free_port()}"
        assert os.access(ZSS_BIN, os.X_OK), f"{ZSS_BIN} missing: cargo build -p zss (or set ZSS_BIN)"
        self.proc = subprocess.Popen(
            [ZSS_BIN, "--log-level", "warn", "broker", "--frontend", self.frontend, "--backend", self.backend,
             "--heartbeat", "100", "--max-ttl", "600", "--update-interval", "100"],
            stdout=subprocess.DEVNULL,
        )
        with zss.Client(self.frontend, timeout=0.2) as probe:
            wait_for(lambda: self._answers(probe), timeout=10, what=f"zss broker on {self.frontend}")

    def _answers(self, probe: zss.Client) -> bool:
        assert self.proc.poll() is None, f"zss broker on {self.frontend} exited: {self.proc.returncode}"
        try:
            probe.management("PING")
            return True
        except zss.ZssError:
            return False

    def forwarded(self) -> int:
        """Requests this broker forwarded to workers (its SMI STATS)."""
        with zss.Client(self.frontend, timeout=1.0) as c:
            return int(c.management("STATS")["broker"]["forwarded"])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)


@pytest.fixture
def brokers() -> Iterator[Tuple[BrokerProc, BrokerProc]]:
    a = BrokerProc()
    try:
        b = BrokerProc()
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def service(brokers: Tuple[BrokerProc, BrokerProc]) -> Iterator[zss.Service]:
    service = zss.Service("failover", [b.backend for b in brokers], heartbeat=0.1, concurrency=32)

    @service.verb("echo")
    def echo(payload, request):
        return payload

    @service.verb("nap")
    def nap(payload, request):
        time.sleep(payload)
        return payload

    with service:
        for b in brokers:  # registered with each: a call through it alone succeeds
            with zss.Client(b.frontend, sid="failover", timeout=0.5) as alone:
                wait_for(lambda: _succeeds(alone), timeout=10, what=f"registration with {b.frontend}")
        yield service


def _succeeds(client: zss.Client) -> bool:
    try:
        client.call("echo", 1)
        return True
    except zss.ZssError:
        return False


def test_a_killed_broker_costs_only_its_calls_in_flight(brokers: Tuple[BrokerProc, BrokerProc], service: zss.Service) -> None:
    a, b = brokers
    assert service.brokers == [a.backend, b.backend]
    before = (a.forwarded(), b.forwarded())
    with zss.Client([a.frontend, b.frontend], sid="failover", timeout=5.0, heartbeat=0.1, lost_after=10) as client:
        assert client.brokers == [a.frontend, b.frontend]
        assert client.liveness == (0.1, 10)
        for i in range(40):
            assert client.call("echo", i).payload == i
        spread = (a.forwarded() - before[0], b.forwarded() - before[1])
        assert sum(spread) == 40 and min(spread) > 0, f"calls spread over both brokers: {spread}"

        # 12 threads calling back to back, half of them with retries (half of each parity); kill b under the load.
        running = True
        outcomes: List[Tuple[bool, object, float]] = []
        lock = threading.Lock()

        def load(idempotent: bool) -> None:
            while running:
                try:
                    result: object = client.call("nap", 0.1, idempotent=idempotent)
                except zss.ZssError as e:
                    result = e
                with lock:
                    outcomes.append((idempotent, result, time.monotonic()))

        threads = [threading.Thread(target=load, args=(i % 4 >= 2,)) for i in range(12)]  # half of each parity idempotent
        for t in threads:
            t.start()
        time.sleep(0.5)
        killed = time.monotonic()
        b.kill()
        time.sleep(1.0)
        settled = time.monotonic()
        time.sleep(0.5)
        running = False
        for t in threads:
            t.join()

        lost = 0
        for idempotent, result, at in outcomes:
            if isinstance(result, zss.Reply):
                continue
            assert not idempotent, f"a call with retries failed: {result!r}"
            assert isinstance(result, zss.BrokerLostError), f"unexpected outcome {result!r}"
            assert isinstance(result, zss.ServiceError) and result.code == 503
            assert killed <= at < killed + 1.0, f"broker lost {at - killed:.3f} s after the kill (timeout 5 s)"
            lost += 1
        assert lost > 0, "calls were in flight on the killed broker and ended broker-lost"
        assert all(isinstance(r, zss.Reply) for _, r, at in outcomes if at > settled), "no failures after the loss"
        # Later calls all go to the survivor.
        for i in range(20):
            assert client.call("echo", i).payload == i


@pytest.mark.asyncio
async def test_acall_with_retries_survives_a_killed_broker(brokers: Tuple[BrokerProc, BrokerProc], service: zss.Service) -> None:
    a, b = brokers
    async with zss.Client(f"{a.frontend},{b.frontend}", sid="failover", timeout=5.0, heartbeat=0.1) as client:
        assert client.broker == f"{a.frontend},{b.frontend}"
        before = b.forwarded()
        calls = [asyncio.ensure_future(client.acall("nap", 0.3, retries=1)) for _ in range(10)]
        await asyncio.sleep(0.1)
        assert b.forwarded() > before, "some calls are in flight on the broker about to die"
        started = time.monotonic()
        b.kill()
        assert [r.payload for r in await asyncio.gather(*calls)] == [0.3] * 10
        assert time.monotonic() - started < 2.0


def test_broker_lists_and_retries_are_checked() -> None:
    with pytest.raises(ValueError, match="no endpoint"):
        zss.Client([])
    with pytest.raises(ValueError, match="no endpoint"):
        zss.Client(" , ")
    with pytest.raises(TypeError, match="broker items must be str"):
        zss.Client(["tcp://127.0.0.1:1", 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="broker must be a str or a list of str"):
        zss.Client(7777)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lost_after must be an int"):
        zss.Client("tcp://127.0.0.1:1", lost_after=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lost_after"):
        zss.Client("tcp://127.0.0.1:1", lost_after=0)
    with pytest.raises(ValueError, match="heartbeat"):
        zss.Client("tcp://127.0.0.1:1", heartbeat=0)
    with pytest.raises(TypeError, match="broker items must be str"):
        zss.Service("x", [None])  # type: ignore[list-item]
    service = zss.Service("x", ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2"))
    assert service.broker == "tcp://127.0.0.1:1,tcp://127.0.0.1:2"
    service.broker = "tcp://127.0.0.1:3, tcp://127.0.0.1:4"
    assert service.brokers == ["tcp://127.0.0.1:3", "tcp://127.0.0.1:4"]
    with zss.Client("tcp://127.0.0.1:1, tcp://127.0.0.1:2", sid="x", timeout=0.05) as client:
        assert client.brokers == ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"]
        assert client.liveness == (1.0, 3)
        with pytest.raises(TypeError, match="retries must be an int, not str"):
            client.call("echo", retries="2")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="retries must be an int, not bool"):
            client.call("echo", retries=True)
        with pytest.raises(ValueError, match="retries"):
            client.call("echo", retries=-1)
        with pytest.raises(TypeError, match="idempotent must be a bool"):
            client.call("echo", idempotent="yes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="no endpoint"):
            client.set_brokers([])
        client.set_brokers(["tcp://127.0.0.1:3"])
        assert client.brokers == ["tcp://127.0.0.1:3"] and client.broker == "tcp://127.0.0.1:3"
        with pytest.raises(zss.Timeout):
            client.call("echo", idempotent=True)  # nothing listens: a timeout, not a retry loop
