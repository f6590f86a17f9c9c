"""Python client overhead: synchronous calls for SECONDS, per-call latency as JSON.
Usage: client.py FRONTEND SID SECONDS  (scripts/bench.sh runs it)."""
import json
import sys
import time

import zss


def main() -> None:
    frontend, sid, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with zss.Client(frontend, sid=sid, timeout=10_000) as client:
        for _ in range(200):  # warm-up
            client.call("echo", "x")
        samples = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t = time.perf_counter_ns()
            client.call("echo", "x")
            samples.append((time.perf_counter_ns() - t) / 1000)
        total = time.perf_counter() - start
    samples.sort()
    pick = lambda p: samples[round((len(samples) - 1) * p)]
    print(json.dumps({"client": "python", "latency": {
        "rps": len(samples) / total, "p50_us": pick(0.5), "p99_us": pick(0.99), "p999_us": pick(0.999)}}))


main()
