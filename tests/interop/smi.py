"""SMI, liveness and load checks of the interop suite (run by run.py, phase "smi").

For each pairing of a broker and a service implementation where one side is the original:
  - UP: the broker registers the service;
  - HEARTBEAT: still registered (and answering) after 3 s, longer than the 2 s max TTL;
  - HEARTBEAT after a broker restart on the same endpoint re-registers the service;
  - DOWN: SIGTERM → the service says DOWN → the broker unregisters it (under 1.5 s);
  - TTL: SIGKILL → the broker drops it after the TTL (2 s, at most 5 s) → unknown service 404;
  - several instances of one sid: all registered, calls reach every one of them;
  - 1,000 calls in flight from one client, and 1 MiB payloads in flight.
A failure names the broker, the service and the check.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List

HERE = Path(__file__).resolve().parent


def wait_for(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Setup:
    def __init__(self, R, args, broker: str, service: str, workdir: Path) -> None:
        self.R, self.M, self.args, self.broker, self.service = R, R.M, args, broker, service
        self.cell = R.Cell(args, workdir, broker)
        self.sid = "INTEROP-" + service.upper()

    def start_broker(self):
        c = self.cell
        c.processes = [p for p in c.processes if p[0] != "broker"]
        if self.broker == "zss":
            return c.spawn("broker", [self.args.zss, "broker", "--frontend", c.frontend, "--backend", c.backend,
                                      "--log-level", "warn"], {})
        env = {"MICRO_BROKER_FE_ADDR": c.frontend, "MICRO_BROKER_BE_ADDR": c.backend, "MICRO_BROKER_LOG_LEVEL": "info"}
        c.broker_log = c.workdir / "broker.log"
        return c.spawn("broker", ["node", str(HERE / "original/node_modules/zmq-service-suite-broker/bin/zss-broker")], env)

    def start_service(self, n: int):
        command, _, env = self.R.programs(self.service)
        return self.cell.spawn(f"service-{self.service}-{n}", command + [self.cell.backend, self.sid], env)

    def instances(self) -> set:
        return self.cell.registered().get(self.sid, set())

    def call(self, verb: str, payload=None, timeout_ms: int = 2000) -> dict:
        out = subprocess.run([self.args.zss, "call", self.sid, verb, json.dumps(payload), "--broker", self.cell.frontend,
                              "--timeout", str(timeout_ms), "--log-level", "error"], capture_output=True, text=True)
        try:
            return json.loads(out.stdout)
        except ValueError:
            return {"status": None, "stdout": out.stdout, "stderr": out.stderr[-300:]}


def run_pair(R, args, broker: str, service: str) -> List[str]:
    failures: List[str] = []
    name = f"{broker} broker + {service} service"

    def expect(ok: bool, what: str) -> None:
        print(f"interop smi: {name}: {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            failures.append(f"smi: {name}: {what}")

    with tempfile.TemporaryDirectory(prefix="zss-interop-smi-") as tmp:
        s = Setup(R, args, broker, service, Path(tmp))
        try:
            s.start_broker()
            time.sleep(0.3)
            first = s.start_service(0)
            expect(wait_for(lambda: len(s.instances()) == 1, 20), "UP: the broker registers the service")
            time.sleep(3.0)
            expect(len(s.instances()) == 1 and s.call("echo", "alive").get("status") == 200,
                   "HEARTBEAT: registered and answering after 3 s (max TTL 2 s)")

            # Several instances of one sid.
            for i in (1, 2):
                s.start_service(i)
            expect(wait_for(lambda: len(s.instances()) == 3, 20), "3 instances of one sid registered")
            if broker == "orig":
                before = s.cell.broker_log.read_text(errors="replace")
                for k in range(9):
                    s.call("echo", k)
                routed = re.findall(r"routing rid: \S+ from: \S+ to: (\S+)", s.cell.broker_log.read_text(errors="replace")[len(before):])
                expect(set(routed) == s.instances(), f"9 calls reach all 3 instances (routed to {len(set(routed))})")
            else:
                seen = {s.call("whoami").get("payload") for _ in range(9)}
                expect(len(seen) == 3, f"9 calls reach all 3 instances (answered by {len(seen)})")

            # 1,000 calls in flight from one client, then 20 × 1 MiB in flight.
            for client in ("orig", "zss"):
                for count, size in ((1000, 16), (20, 1 << 20)):
                    env = dict(os.environ, NODE_PATH=str(HERE / "original/node_modules"))
                    try:
                        out = subprocess.run(["node", str(HERE / "burst.js"), client, s.cell.frontend, s.sid, str(count), str(size)],
                                             capture_output=True, text=True, timeout=120, env=env)
                        res = json.loads(out.stdout.strip().splitlines()[-1])
                    except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
                        res = {"ok": 0, "n": count, "first_problem": repr(e)}
                    who = "original client" if client == "orig" else "Node binding client"
                    expect(res.get("ok") == count,
                           f"{count} calls of {size} B in flight from the {who}: {res.get('ok')}/{count} ok"
                           f"{' in %s ms' % res.get('ms') if res.get('ms') is not None else ''}"
                           f"{'; ' + str(res.get('first_problem')) if res.get('first_problem') else ''}")

            # HEARTBEAT after a broker restart: the services come back by themselves.
            bproc = next(p for n, p, _ in s.cell.processes if n == "broker")
            bproc.send_signal(signal.SIGTERM)
            bproc.wait(timeout=10)
            s.start_broker()
            expect(wait_for(lambda: len(s.instances()) == 3, 20),
                   "HEARTBEAT: after a broker restart all 3 instances are registered again")

            # DOWN on SIGTERM.
            procs = [p for n, p, _ in s.cell.processes if n.startswith("service-")]
            procs[1].send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            expect(wait_for(lambda: len(s.instances()) == 2, 1.5),
                   f"DOWN: a stopped instance is unregistered at once ({time.monotonic() - t0:.1f} s)")
            procs[1].wait(timeout=10)
            # TTL expiry of killed instances.
            procs[0].kill(); procs[2].kill()
            procs[0].wait(); procs[2].wait()
            t0 = time.monotonic()
            gone = wait_for(lambda: len(s.instances()) == 0, 5)
            took = time.monotonic() - t0
            expect(gone and took >= 0.5, f"TTL: killed instances dropped after the TTL ({took:.1f} s)")
            expect(s.call("echo", "anyone?").get("status") == 404, "after the TTL: unknown service 404")
        except Exception as e:  # noqa: BLE001 - report, not crash the suite
            failures.append(f"smi: {name}: {type(e).__name__}: {e}")
        finally:
            for n, p, log in reversed(s.cell.processes):
                if p.poll() is None:
                    p.kill(); p.wait()
    return failures


def run_all(args, R) -> List[str]:
    failures: List[str] = []
    services = [x for x in args.services.split(",") if x]
    pairs = [("orig", x) for x in services if x != "orig"] + ([("zss", "orig")] if "orig" in services else [])
    for broker, service in pairs:
        failures.extend(run_pair(R, args, broker, service))
    return failures
