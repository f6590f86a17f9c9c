"""An asyncio ZSS client: many calls in flight on one connection, no thread per call.

`python async_client.py [frontend]` against a broker and `service.py`, or
`python async_client.py --with-broker` to run everything in this process.
"""

import asyncio
import sys
import time

import zss


async def main(frontend: str) -> None:
    async with zss.Client(frontend, sid="pong", timeout=5.0) as client:
        started = time.monotonic()
        replies = await asyncio.gather(*(client.acall("ping", i) for i in range(1000)))
        elapsed = time.monotonic() - started
        assert [r.payload for r in replies] == list(range(1000))
        print(f"1000 concurrent pings in {elapsed * 1000:.0f} ms")

        # Async handlers on the service side overlap too: ten 0.5 s waits take about 0.5 s.
        started = time.monotonic()
        await asyncio.gather(*(client.acall("later", 0.5) for _ in range(10)))
        print(f"10 x later(0.5) in {time.monotonic() - started:.2f} s")

        try:
            await client.acall("ping", sid="nobody")
        except zss.ServiceError as e:
            print("unknown service ->", e.code, e.user_message)


if __name__ == "__main__":
    if "--with-broker" in sys.argv:
        from service import service as example

        with zss.Broker("tcp://127.0.0.1:*", "tcp://127.0.0.1:*") as broker:
            example.broker = broker.backend
            with example:
                time.sleep(0.2)
                asyncio.run(main(broker.frontend))
    else:
        args = [a for a in sys.argv[1:] if not a.startswith("--")]
        asyncio.run(main(args[0] if args else "tcp://127.0.0.1:7777"))
