"""A blocking ZSS client: `python client.py [frontend]` (default tcp://127.0.0.1:7777).

Run a broker (`zss broker`, or `python client.py --with-broker` for an in-process one and
the example service) and `service.py` first.
"""

import sys

import zss


def main(frontend: str) -> None:
    with zss.Client(frontend, sid="pong", timeout=2.0) as client:
        reply = client.call("ping", {"hello": "world"})
        print("ping ->", reply.status, reply.payload)

        created = client.call("create", {"name": "widget"})
        print("create ->", created.status, created.payload, "location:", created.headers.get("location"))
        try:
            client.call("create", {})
        except zss.ServiceError as e:
            print("create without a name ->", e.code, e.payload.get("validationErrors"))

        try:
            client.call("later", 5, timeout=0.5)
        except zss.Timeout as e:
            print("later(5) with a 0.5 s timeout ->", e.code, e.user_message)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--with-broker" in sys.argv:
        # Everything in one process: a broker on free ports and the example service.
        import time

        from service import service as example

        with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") as broker:
            example.broker = broker.backend
            with example:
                time.sleep(0.2)  # let the service register
                main(broker.frontend)
    else:
        main(args[0] if args else "tcp://127.0.0.1:7777")
