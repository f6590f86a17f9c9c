"""asyncio client: concurrency, errors, timeouts, cancellation, never blocking the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import zss


@pytest.mark.asyncio
async def test_thousand_concurrent_calls(client: zss.Client) -> None:
    threads_before = threading.active_count()
    started = time.monotonic()
    replies = await asyncio.gather(*(client.acall("echo", {"i": i}) for i in range(1000)))
    elapsed = time.monotonic() - started
    assert [r.payload["i"] for r in replies] == list(range(1000))
    assert all(r.status == 200 for r in replies)
    assert threading.active_count() == threads_before  # no thread per call
    assert elapsed < 10


@pytest.mark.asyncio
async def test_errors_and_timeouts(client: zss.Client) -> None:
    with pytest.raises(zss.ServiceError) as err:
        await client.acall("echo", sid="nobody-home")
    assert err.value.code == 404
    with pytest.raises(zss.Timeout):
        await client.acall("slow", 1.0, timeout=0.1)
    with pytest.raises(TypeError, match="binary"):
        await client.acall("echo", b"raw")


@pytest.mark.asyncio
async def test_loop_is_not_blocked(client: zss.Client) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    try:
        reply = await client.acall("slow", 0.5)
    finally:
        task.cancel()
    assert reply.payload == "done"
    assert ticks >= 20


@pytest.mark.asyncio
async def test_cancellation_abandons_the_call(client: zss.Client) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.acall("slow", 0.5), 0.05)
    # The late reply is discarded and the client keeps working.
    await asyncio.sleep(0.6)
    assert (await client.acall("echo", 1)).payload == 1


@pytest.mark.asyncio
async def test_mixed_sync_and_async_on_one_client(client: zss.Client) -> None:
    loop = asyncio.get_running_loop()
    blocking = loop.run_in_executor(None, client.call, "echo", "sync")
    asynchronous = client.acall("echo", "async")
    a, b = await asyncio.gather(blocking, asynchronous)
    assert (a.payload, b.payload) == ("sync", "async")


def test_each_event_loop_gets_its_own_bridge(client: zss.Client) -> None:
    for i in range(3):
        assert asyncio.run(client.acall("echo", i)).payload == i


@pytest.mark.asyncio
async def test_async_management(client: zss.Client) -> None:
    assert await client.amanagement("PING") == "PONG"
    stats = await client.amanagement("STATS")
    assert "ECHO" in stats["services"]
