#!/usr/bin/env python3
"""Interop suite: the matrix's scenario table (tests/matrix/scenarios.json plus
tests/interop/scenarios.json) run with the ORIGINAL Node packages in every role:

  phase "orig-broker": the original zmq-service-suite-broker, every client (rust, c, python,
                       node, ruby and the original client `orig`) × every service (the same six);
  phase "zss-broker":  our `zss broker`, the original client × every service and every client ×
                       the original service.

Then the SMI checks (tests/interop/smi.py). A cell that differs from the table fails the run,
naming the broker, the client, the service and the scenario. Where the original behaves
differently on purpose or by bug, `ORIGINAL_DIFFERENCES` below names it and says what each side
must do (README "Compatibility with the original packages").
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
spec = importlib.util.spec_from_file_location("matrix_run", ROOT / "tests" / "matrix" / "run.py")
M = importlib.util.module_from_spec(spec)
spec.loader.exec_module(M)  # type: ignore

ORIG = HERE / "original"
OURS = ["rust", "c", "python", "node", "ruby"]
ALL = OURS + ["orig"]

_programs = M.programs


def programs(lang: str):
    if lang == "orig":
        return ["node", str(ORIG / "service.js")], ["node", str(ORIG / "client.js")], {"NODE_PATH": str(ORIG / "node_modules")}
    return _programs(lang)


M.programs = programs  # the matrix's Matrix.start/run_client look programs up through the module

# --- what the original does differently ---------------------------------------------------

FALSY = {"value/false/echo": False, "value/zero/echo": 0, "value/empty-string/echo": ""}


def expected(scenario, client: str, service: str, broker: str) -> Dict[str, Any]:
    """The matrix's expectation for the cell, adjusted for the original's known differences
    (each one named in ORIGINAL_DIFFERENCES)."""
    # The original client and service are JavaScript: they see values as our Node binding does.
    exp = scenario.expected("node" if client == "orig" else client, "node" if service == "orig" else service)
    exp = json.loads(json.dumps(exp))
    if STRICT:  # --strict: the table as it is, no difference allowed (shows what each one is)
        return exp
    sid = scenario.id
    if service == "orig" and sid in FALSY:
        exp["status"] = 204  # D1: 204 for a falsy result; the value still travels as the payload
    # D2: an error payload made by an original (the service's errors, the broker's 404) has no
    # `errorCode`; our clients add it, the original client passes the payload through as it is.
    made_by_original = (broker == "orig") if sid == "unknown-service" else (service == "orig")
    if client == "orig" and made_by_original and "error" in exp and sid not in ("timeout",):
        exp["error"].pop("errorCode", None)
    return exp


STRICT = False

ORIGINAL_DIFFERENCES = [
    "D1 (original service, its `payload ? 200 : 204`): a falsy result (false, 0, \"\") is answered 204, with "
    "the value as payload; ours answers 200 (README: only nil is 204). Checked: 204 from the original service "
    "to every client, 200 from ours.",
    "D2 (original service and broker): their error payloads have `code` (service) or `errorCode` (broker 404) "
    "only. Our clients show both fields whoever made the error; the original client passes the service's "
    "payload through as it is and replaces the broker's (no numeric `code`) by its own errors.json entry, "
    "so it sees no `errorCode` from an original. Checked: `errorCode` required everywhere except there.",
]


def check(scenario, client, service, broker, got) -> Optional[str]:
    exp = expected(scenario, client, service, broker)
    saved = scenario.expected
    scenario.expected = lambda c, s: exp  # type: ignore
    try:
        return M.check(scenario, client, service, got)
    finally:
        scenario.expected = saved  # type: ignore


# --- brokers ------------------------------------------------------------------------------

class Cell(M.Matrix):
    """The matrix's process handling, with the broker being ours or the original."""

    def __init__(self, args, workdir: Path, broker: str) -> None:
        super().__init__(args, workdir)
        self.broker = broker
        self.broker_log: Optional[Path] = None

    def start(self, services: List[str]) -> None:
        if self.broker == "zss":
            self.spawn("broker", [self.args.zss, "broker", "--frontend", self.frontend, "--backend", self.backend,
                                  "--log-level", "warn"], {})
        else:
            env = {"MICRO_BROKER_FE_ADDR": self.frontend, "MICRO_BROKER_BE_ADDR": self.backend,
                   "MICRO_BROKER_LOG_LEVEL": "info"}  # info: its SMI lines are how we see registrations
            self.spawn("broker", ["node", str(ORIG / "node_modules/zmq-service-suite-broker/bin/zss-broker")], env)
            self.broker_log = self.workdir / "broker.log"
        time.sleep(0.3)
        for lang in services:
            command, _, env = programs(lang)
            self.spawn(f"service-{lang}", command + [self.backend, M.sid_of(lang)], env)
        self.wait_registered(services)

    def registered(self) -> Dict[str, set]:
        if self.broker == "zss":
            out = subprocess.run([self.args.zss, "services", "--broker", self.frontend, "--json", "--log-level", "error"],
                                 capture_output=True, text=True)
            data = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else {}
            return {sid: {w["identity"] for w in ws} for sid, ws in data.items()}
        return original_registry(self.broker_log)

    def wait_registered(self, services: List[str]) -> None:
        deadline = time.monotonic() + self.args.startup_timeout
        wanted = {M.sid_of(lang) for lang in services}
        while True:
            for name, process, log in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"interop: {name} exited with {process.returncode} while starting:\n"
                                     + log.read_text(errors="replace")[-3000:])
            if wanted <= {s for s, ids in self.registered().items() if ids}:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"interop: services not registered with the {self.broker} broker after "
                                 f"{self.args.startup_timeout} s: {sorted(wanted)}")
            time.sleep(0.1)

    def exited_cleanly(self, name: str, code: int) -> bool:
        # The original broker's bin exits through process.exit("SIGTERM"): not a clean code.
        return code == 0 or (name == "broker" and self.broker == "orig")


SMI_LINE = re.compile(r"SMI (register|unregister|TTL unregister) for sid: (\S+?),? instance:? (\S+?)!")


def original_registry(log: Optional[Path]) -> Dict[str, set]:
    """Who the original broker has registered, from its own SMI log lines (info level)."""
    reg: Dict[str, set] = {}
    if log is None or not log.exists():
        return reg
    for m in SMI_LINE.finditer(log.read_text(errors="replace")):
        kind, sid, ident = m.groups()
        if kind == "register":
            reg.setdefault(sid, set()).add(ident)
        else:
            reg.setdefault(sid, set()).discard(ident)
    return reg


def load_scenarios(args) -> list:
    scenarios = M.load_table(Path(args.table))
    extra = M.load_table(HERE / "scenarios.json") if (HERE / "scenarios.json").exists() else []
    return scenarios + extra


def run_phase(args, broker: str, clients: List[str], services: List[str], scenarios, failures: List[str],
              cells: Dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix=f"zss-interop-{broker}-") as tmp:
        workdir = Path(tmp)
        tagged, tsv = M.write_call_files(scenarios, workdir)
        cell = Cell(args, workdir, broker)
        try:
            cell.start(services)
            print(f"interop: {broker} broker, services {','.join(services)} up", flush=True)
            for client in clients:
                want = [s for s in services if client == "orig" or s == "orig" or broker == "orig"]
                if not want:
                    continue
                results, trouble, elapsed = cell.run_client(client, want, tagged, tsv)
                print(f"interop: {broker} broker: {client} client ran {len(results)} calls in {elapsed:.1f} s", flush=True)
                if trouble:
                    failures.append(f"[{broker} broker, {client} client] {trouble}")
                for service in want:
                    passed = 0
                    for scenario in scenarios:
                        problem = check(scenario, client, service, broker, results.get((M.sid_of(service), scenario.id)))
                        if problem:
                            failures.append(f"{broker} broker: {client} client → {service} service: {scenario.id}: {problem}")
                        else:
                            passed += 1
                    cells[f"{broker}|{client}|{service}"] = "ok" if passed == len(scenarios) else f"{passed}/{len(scenarios)}"
        finally:
            failures.extend(f"[{broker} broker shutdown] {p}" for p in cell.stop())


def print_table(cells: Dict[str, str], broker: str, clients: List[str], services: List[str]) -> None:
    print(f"\n{broker} broker: client \\ service" + "".join(f"{s:>9}" for s in services))
    for c in clients:
        print(f"{c:<29}" + "".join(f"{cells.get(f'{broker}|{c}|{s}', '-'):>9}" for s in services))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", default="orig-broker,zss-broker,smi")
    parser.add_argument("--clients", default=",".join(ALL))
    parser.add_argument("--services", default=",".join(ALL))
    parser.add_argument("--zss", default=str(ROOT / "target" / "debug" / "zss"))
    parser.add_argument("--table", default=str(ROOT / "tests" / "matrix" / "scenarios.json"))
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--client-timeout", type=float, default=400.0)
    parser.add_argument("--show", type=int, default=60)
    parser.add_argument("--strict", action="store_true",
                        help="do not allow the original's known differences (every one then fails, by name)")
    args = parser.parse_args()
    global STRICT
    STRICT = args.strict
    phases = args.phases.split(",")
    clients = [c for c in args.clients.split(",") if c]
    services = [s for s in args.services.split(",") if s]
    scenarios = load_scenarios(args)
    failures: List[str] = []
    cells: Dict[str, str] = {}
    started = time.monotonic()
    print(f"interop: {len(scenarios)} scenarios per cell")
    if "orig-broker" in phases:
        run_phase(args, "orig", clients, services, scenarios, failures, cells)
    if "zss-broker" in phases:
        run_phase(args, "zss", clients, services, scenarios, failures, cells)
    if "smi" in phases:
        smi = importlib.util.spec_from_file_location("interop_smi", HERE / "smi.py")
        S = importlib.util.module_from_spec(smi)
        smi.loader.exec_module(S)  # type: ignore
        failures.extend(S.run_all(args, sys.modules[__name__]))
    for broker in ("orig", "zss"):
        if any(k.startswith(broker + "|") for k in cells):
            print_table(cells, broker, clients, services)
    print("\nknown differences of the original, checked per cell:")
    for d in ORIGINAL_DIFFERENCES:
        print(f"  {d}")
    print(f"\ninterop: {time.monotonic() - started:.0f} s")
    if failures:
        print(f"interop: {len(failures)} differences", file=sys.stderr)
        for line in failures[: args.show]:
            print(f"  FAIL {line}", file=sys.stderr)
        if len(failures) > args.show:
            print(f"  ... and {len(failures) - args.show} more", file=sys.stderr)
        return 1
    print(f"interop: all {len(cells)} cells agree with the table; every SMI check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
