"""The matrix client in Python: `client.py <frontend-endpoint> <scenarios-file> <SID>...`
(tests/matrix/README.md). Prints one JSON line per call."""

from __future__ import annotations

import json
import sys
from typing import Any, Dict

import zss

import tagged
from curve_env import curve


def run(client: zss.Client, sid: str, scenario: Dict[str, Any]) -> Dict[str, Any]:
    record: Dict[str, Any] = {"service": sid, "id": scenario["id"]}
    headers = scenario.get("headers")
    try:
        reply = client.call(
            scenario["verb"],
            tagged.decode(scenario["payload"]),
            sid=scenario.get("sid") or sid,
            headers=tagged.decode(headers) if headers is not None else None,
            timeout=scenario["timeout_ms"] / 1000,
        )
    except zss.ServiceError as e:  # any non-2xx reply, 599 (zss.Timeout) included
        record.update(status=e.code, error=tagged.encode(e.payload))
        return record
    except Exception as e:  # noqa: BLE001 - anything else the binding raised is reported
        record.update(status=None, client_error=f"{type(e).__name__}: {e}")
        return record
    record.update(
        status=reply.status,
        payload=tagged.encode(reply.payload),
        headers=tagged.encode({k: v for k, v in reply.headers.items() if k.startswith("x-matrix-")}),
    )
    return record


def main() -> int:
    if len(sys.argv) < 4:
        print("usage: client.py <frontend-endpoint> <scenarios-file> <SID>...", file=sys.stderr)
        return 2
    frontend, path, sids = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path, encoding="utf-8") as f:
        scenarios = json.load(f)
    with zss.Client(frontend, curve=curve()) as client:
        for sid in sids:
            for scenario in scenarios:
                try:
                    line = json.dumps(run(client, sid, scenario), allow_nan=True)
                except (TypeError, ValueError) as e:  # a reply with no tagged JSON form
                    line = json.dumps({"service": sid, "id": scenario["id"], "status": None,
                                       "client_error": f"{type(e).__name__}: {e}"})
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
