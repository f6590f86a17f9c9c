"""The matrix service in Python: `service.py <backend-endpoint> <SID>` (tests/matrix/README.md).

A thin harness over the zss binding's public API; serves until SIGTERM/SIGINT, then stops
cleanly (exit 0).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Dict

import zss

import tagged
from curve_env import curve

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

# The fields `fail` turns into the error's code and messages; every other one is kept.
STANDARD = ("code", "errorCode", "userMessage", "developerMessage")


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: service.py <backend-endpoint> <SID>", file=sys.stderr)
        return 2
    backend, sid = sys.argv[1], sys.argv[2]
    service = zss.Service(sid, backend, curve=curve())

    @service.verb("echo")
    def echo(payload: Any, request: zss.Request) -> Any:
        return payload

    @service.verb("inspect")
    def inspect(payload: Any, request: zss.Request) -> str:
        return tagged.dumps(payload)

    @service.verb("status")
    def status(payload: Dict[str, Any], request: zss.Request) -> zss.Response:
        return zss.Response(payload.get("payload"), status=payload["status"])

    @service.verb("fail")
    def fail(payload: Dict[str, Any], request: zss.Request) -> None:
        raise zss.ServiceError(
            payload["code"],
            user_message=payload.get("userMessage"),
            developer_message=payload.get("developerMessage"),
            payload={k: v for k, v in payload.items() if k not in STANDARD},
        )

    @service.verb("crash")
    def crash(payload: Any, request: zss.Request) -> None:
        raise RuntimeError(f"crash requested: {payload}")

    @service.verb("sleep")
    async def sleep(payload: Any, request: zss.Request) -> str:
        await asyncio.sleep(payload / 1000)
        return "awake"

    @service.verb("headers")
    def headers(payload: Any, request: zss.Request) -> zss.Response:
        matrix = {k: v for k, v in request.headers.items() if k.startswith("x-matrix-")}
        return zss.Response(matrix, headers={"x-matrix-reply": payload})

    service.run()  # until SIGTERM/SIGINT; handlers in flight finish, then SMI DOWN
    return 0


if __name__ == "__main__":
    sys.exit(main())
