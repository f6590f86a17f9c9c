"""A ZSS service: `python service.py [backend]` (default tcp://127.0.0.1:7776).

Serves PONG with a sync verb, an async verb and an error; stops on Ctrl-C or SIGTERM.
"""

import asyncio
import logging
import sys

import zss

logging.basicConfig(level=logging.INFO)

service = zss.Service("pong", sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7776")


@service.verb("ping")
def ping(payload, request):
    """Echoes the payload back."""
    return payload


@service.verb("later")
async def later(payload, request):
    """Answers after `payload` seconds without holding a thread."""
    await asyncio.sleep(float(payload or 0))
    return {"waited": payload, "for": request.client}


@service.verb("create")
def create(payload, request):
    """201 with a reply header for a named item, 422 otherwise."""
    if not isinstance(payload, dict) or not payload.get("name"):
        raise zss.ServiceError(422, payload={"validationErrors": ["name"]})
    return zss.Response({"id": 1, "name": payload["name"]}, status=201, headers={"location": "/items/1"})


if __name__ == "__main__":
    print(f"serving PONG via {service.broker}; Ctrl-C to stop")
    service.run()
