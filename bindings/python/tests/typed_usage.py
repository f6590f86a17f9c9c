"""Checked by mypy --strict in test_typing.py: the public API as a typed user writes it."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import zss


def sync_usage(broker: zss.Broker) -> int:
    service = zss.Service("typed", broker.backend, heartbeat=0.5, concurrency=4)

    @service.verb("add")
    def add(payload: Dict[str, int], request: zss.Request) -> int:
        return payload["a"] + payload["b"]

    async def later(payload: Any, request: zss.Request) -> Dict[str, str]:
        return {"rid": request.rid, "client": request.client}

    @service.verb("create")
    def create(payload: Dict[str, int], request: zss.Request) -> zss.Response:
        return zss.Response(payload, status=201, headers={"location": "/items/1"})

    created: zss.Response = zss.Response(None)
    maybe_status: Optional[int] = created.status
    reply_headers: Dict[str, Any] = created.headers

    service.add_verb("later", later)
    with service, zss.Client(broker.frontend, sid="typed", timeout=2.0) as client:
        reply: zss.Reply = client.call("add", {"a": 1, "b": 2}, headers={"h": 1}, timeout=1.5)
        status: int = reply.status
        headers: Dict[str, Any] = reply.headers
        try:
            client.call("missing")
        except zss.Timeout as t:
            code: int = t.code
        except zss.ServiceError as e:
            message: str = e.user_message
            extra: Dict[str, Any] = e.payload
        return status + len(headers)


async def async_usage(frontend: str) -> List[Any]:
    async with zss.Client(frontend, sid="typed") as client:
        replies = await asyncio.gather(*(client.acall("add", {"a": i, "b": i}) for i in range(3)))
        return [r.payload for r in replies]


def broker_usage() -> Optional[str]:
    with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", max_ttl=2.0) as broker:
        stats: Dict[str, int] = broker.stats()
        return broker.frontend if stats["workers"] == 0 else None


def curve_usage(tmp: str) -> Optional[BaseException]:
    keys: zss.KeyPair = zss.generate_keypair()
    public: str = keys.public_key
    with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", curve_secret=keys, allow=f"{tmp}/allow.txt") as broker:
        service = zss.Service("secure", broker.backend, curve=zss.Curve(public, "env:SERVICE_SECRET"))
        client = zss.Client(broker.frontend, curve=zss.Curve(f"{tmp}/broker.pub", keys))
        client.close()
        try:
            service.run()
        except zss.AuthenticationError as refused:
            return refused
        return service.error


def several_brokers_usage(frontends: List[str], backends: List[str]) -> int:
    service = zss.Service("typed", backends, heartbeat=0.5)
    service.brokers = ",".join(backends)
    listed: List[str] = service.brokers
    with zss.Client(frontends, sid="typed", heartbeat=0.1, lost_after=3) as client:
        both: List[str] = client.brokers
        joined: str = client.broker
        heartbeat, lost_after = client.liveness
        client.set_brokers(frontends[:1])
        try:
            client.call("add", {"a": 1, "b": 2}, retries=3)
            client.call("add", {"a": 1, "b": 2}, idempotent=True)
        except zss.BrokerLostError as e:
            code: int = e.code
        return len(listed) + len(both) + len(joined) + int(heartbeat) + lost_after


async def several_brokers_async(frontends: zss.Brokers) -> Any:
    async with zss.Client(frontends, sid="typed") as client:
        return (await client.acall("add", {"a": 1, "b": 2}, idempotent=True)).payload
