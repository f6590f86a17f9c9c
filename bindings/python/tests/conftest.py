"""Fixtures: a real in-process broker on wildcard tcp ports, services registered with it."""

from __future__ import annotations

import time
from typing import Callable, Iterator, List

import pytest

import zss


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def broker() -> Iterator[zss.Broker]:
    with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") as b:
        yield b


@pytest.fixture
def start_service(broker: zss.Broker) -> Iterator[Callable[..., zss.Service]]:
    """Starts a service on the broker and waits until the broker has registered it."""
    started: List[zss.Service] = []

    def start(service: zss.Service) -> zss.Service:
        before = broker.stats()["workers"]
        service.start()
        started.append(service)
        wait_for(lambda: broker.stats()["workers"] > before, what="worker registration")
        return service

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def echo(broker: zss.Broker, start_service: Callable[..., zss.Service]) -> zss.Service:
    """Service ECHO: `echo` returns the payload, `slow` sleeps `payload` seconds."""
    service = zss.Service("echo", broker.backend, heartbeat=0.2, concurrency=32)

    @service.verb("echo")
    def echo(payload, request):
        return payload

    @service.verb("slow")
    def slow(payload, request):
        time.sleep(payload)
        return "done"

    return start_service(service)


@pytest.fixture
def client(broker: zss.Broker, echo: zss.Service) -> Iterator[zss.Client]:
    with zss.Client(broker.frontend, sid="echo", timeout=5.0) as c:
        yield c
