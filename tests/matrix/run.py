#!/usr/bin/env python3
"""Runs every client language against every service language through one `zss broker` and
checks each answer against scenarios.json (see README.md in this directory).

Standard library only: it runs before (and without) any binding being importable.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LANGUAGES = ["rust", "c", "python", "node", "ruby"]
PLAIN_JSON = {"c"}  # languages whose programs read and print plain JSON (no tags)
MATRIX_BUILD = ROOT / "target" / "matrix"


def programs(lang: str) -> Tuple[List[str], List[str], Dict[str, str]]:
    """The service command, the client command and extra environment for a language."""
    env: Dict[str, str] = {}
    if lang == "rust":
        bin_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
        return [str(bin_dir / "matrix-service")], [str(bin_dir / "matrix-client")], env
    if lang == "c":
        env["LD_LIBRARY_PATH"] = str(MATRIX_BUILD / "prefix" / "lib")
        return [str(MATRIX_BUILD / "c-service")], [str(MATRIX_BUILD / "c-client")], env
    if lang == "python":
        python = str(ROOT / ".venv" / "bin" / "python")
        return [python, str(HERE / "python" / "service.py")], [python, str(HERE / "python" / "client.py")], env
    if lang == "node":
        return ["node", str(HERE / "node" / "service.js")], ["node", str(HERE / "node" / "client.js")], env
    if lang == "ruby":
        env["GEM_HOME"] = str(ROOT / "target" / "ruby" / "gems")
        return ["ruby", str(HERE / "ruby" / "service.rb")], ["ruby", str(HERE / "ruby" / "client.rb")], env
    raise ValueError(lang)


def sid_of(lang: str) -> str:
    return f"MATRIX-{lang.upper()}"


# --- tagged values ------------------------------------------------------------------------

def materialize(value: Any) -> Any:
    """Writes out the table's generators ($repeat, $range); keeps the other tags."""
    if isinstance(value, dict):
        if set(value) == {"$repeat"}:
            text, times = value["$repeat"]
            return text * times
        if set(value) == {"$range"}:
            return list(range(value["$range"]))
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v) for v in value]
    return value


def untag(value: Any) -> Any:
    """Tagged JSON → plain Python values (floats as float), for plain-JSON programs."""
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$int"}:
            return int(value["$int"])
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def tag(value: Any) -> Any:
    """Plain JSON parsed by Python (which keeps 2.0 apart from 2) → tagged JSON."""
    if isinstance(value, float):
        return {"$float": value}
    if isinstance(value, dict):
        return {k: tag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [tag(v) for v in value]
    return value


def canonical(value: Any) -> Any:
    """A form where == is exact: types kept apart (True is not 1, 2.0 is not 2), key order kept."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):  # a bare float only comes from a program that forgot the tag
        return ("untagged float", value)
    if isinstance(value, list):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        if set(value) == {"$float"} and isinstance(value["$float"], (int, float)):
            f = float(value["$float"])
            return ("float", "nan" if math.isnan(f) else f)
        if set(value) == {"$int"}:
            return ("int", int(value["$int"]))
        return ("map", tuple((k, canonical(v)) for k, v in value.items()))
    return ("unknown", repr(value))


def same(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


def short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


# --- the table ----------------------------------------------------------------------------

class Scenario:
    def __init__(self, id: str, verb: str, payload: Any, *, sid: Optional[str] = None,
                 headers: Optional[Dict[str, Any]] = None, timeout_ms: int, expect: Dict[str, Any],
                 views: Optional[Dict[str, Any]] = None) -> None:
        self.id, self.verb, self.payload, self.sid = id, verb, payload, sid
        self.headers, self.timeout_ms, self.expect = headers, timeout_ms, expect
        # For value scenarios: which payload a viewer sees (see expected()).
        self.views = views

    def call(self) -> Dict[str, Any]:
        return {"id": self.id, "sid": self.sid, "verb": self.verb, "payload": self.payload,
                "headers": self.headers, "timeout_ms": self.timeout_ms}

    def expected(self, client: str, service: str) -> Dict[str, Any]:
        """What this cell must answer. For values, the viewer is the client (echo) or the
        service (inspect); `seen_by` the viewer's language wins over `through` the other's."""
        if self.views is None:
            return self.expect
        viewer, other = (client, service) if self.verb == "echo" else (service, client)
        seen = self.views["seen_by"].get(viewer, self.views["through"].get(other, self.views["expect"]))
        expect = dict(self.expect)
        expect["payload" if self.verb == "echo" else "inspected"] = seen
        return expect


def load_table(path: Path) -> List[Scenario]:
    table = json.loads(path.read_text(encoding="utf-8"))
    timeout_ms = table["defaults"]["timeout_ms"]
    scenarios: List[Scenario] = []
    for entry in table["values"]:
        value = materialize(entry["value"])
        views = {
            "expect": materialize(entry.get("expect", entry["value"])),
            "seen_by": materialize(entry.get("seen_by", {})),
            "through": materialize(entry.get("through", {})),
        }
        scenarios.append(Scenario(f"value/{entry['name']}/echo", "echo", value, timeout_ms=timeout_ms,
                                  expect={"status": entry.get("echo_status", 200)}, views=views))
        scenarios.append(Scenario(f"value/{entry['name']}/inspect", "inspect", value, timeout_ms=timeout_ms,
                                  expect={"status": 200}, views=views))
    for entry in table["calls"]:
        scenarios.append(Scenario(entry["name"], entry["verb"], materialize(entry["payload"]),
                                  sid=entry.get("sid"), headers=materialize(entry.get("headers")),
                                  timeout_ms=entry.get("timeout_ms", timeout_ms), expect=materialize(entry["expect"])))
    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids)), "scenario names must be unique"
    return scenarios


def write_call_files(scenarios: List[Scenario], directory: Path) -> Tuple[Path, Path]:
    """The scenario list for the programs: tagged JSON, and tab-separated plain JSON for C."""
    tagged = directory / "scenarios.json"
    tagged.write_text(json.dumps([s.call() for s in scenarios], ensure_ascii=False), encoding="utf-8")
    tsv = directory / "scenarios.tsv"
    lines = []
    for s in scenarios:
        fields = [s.id, s.sid or "-", s.verb, str(s.timeout_ms),
                  json.dumps(untag(s.payload), ensure_ascii=False),
                  json.dumps(untag(s.headers), ensure_ascii=False) if s.headers else "-"]
        assert all("\t" not in f and "\n" not in f for f in fields)
        lines.append("\t".join(fields))
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tagged, tsv


# --- checking -----------------------------------------------------------------------------

def check(scenario: Scenario, client: str, service: str, got: Optional[Dict[str, Any]]) -> Optional[str]:
    """None when the answer is what the table says; otherwise what differs."""
    if got is None:
        return "no answer printed by the client"
    if got.get("client_error"):
        return f"client error: {got['client_error']}"
    expect = scenario.expected(client, service)
    plain_client = client in PLAIN_JSON
    problems = []
    if got.get("status") != expect["status"]:
        problems.append(f"status {got.get('status')}, expected {expect['status']}")
    if "payload" in expect:
        payload = tag(got.get("payload")) if plain_client else got.get("payload")
        if not same(payload, expect["payload"]):
            problems.append(f"payload {short(payload)}, expected {short(expect['payload'])}")
    if "inspected" in expect:
        problems.extend(check_inspected(got.get("payload"), service, expect["inspected"]))
    if "error" in expect:
        error = got.get("error")
        error = tag(error) if plain_client else error
        if not isinstance(error, dict):
            problems.append(f"error payload {short(error)}, expected a map")
        else:
            for key, want in expect["error"].items():
                if key not in error:
                    problems.append(f"error field {key!r} missing (got {short(error)})")
                elif not same(error[key], want):
                    problems.append(f"error field {key!r} = {short(error[key])}, expected {short(want)}")
    if "headers" in expect:
        headers = got.get("headers") or {}
        headers = tag(headers) if plain_client else headers
        want = expect["headers"]
        if set(headers) != set(want) or any(not same(headers[k], want[k]) for k in want):
            problems.append(f"x-matrix headers {short(headers)}, expected {short(want)}")
    return "; ".join(problems) or None


def check_inspected(payload: Any, service: str, want: Any) -> List[str]:
    """`inspect` answers with a string: the service's view of the value, as JSON."""
    if not isinstance(payload, str):
        return [f"inspect answered {short(payload)}, expected a JSON string"]
    try:
        seen = json.loads(payload)
    except ValueError as e:
        return [f"inspect answered unparsable JSON ({e}): {short(payload)}"]
    seen = tag(seen) if service in PLAIN_JSON else seen
    if not same(seen, want):
        return [f"the service saw {short(seen)}, expected {short(want)}"]
    return []


# --- processes ----------------------------------------------------------------------------

def require_program(name: str, command: List[str]) -> None:
    """A clear error instead of a traceback when a program was not built or installed."""
    if shutil.which(command[0]) is None:
        raise SystemExit(f"matrix: {name}: {command[0]} not found (tests/matrix/run.sh builds and prepares it)")


class Matrix:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.processes: List[Tuple[str, subprocess.Popen, Path]] = []
        self.frontend = f"ipc://{workdir}/frontend"
        self.backend = f"ipc://{workdir}/backend"
        # --curve: the key files of each program (name → environment), see curve_keys().
        self.keys: Dict[str, Dict[str, str]] = {}

    def curve_keys(self, languages: List[str]) -> List[str]:
        """Writes a broker key pair and one per program with `zss keygen`, and an allow list
        naming them: each service's key may serve only its own sid, each client's and the
        driver's may call anything. Returns the broker's extra arguments."""
        def keygen(name: str) -> Path:
            subprocess.run([self.args.zss, "keygen", "--out", str(self.workdir / name)], check=True,
                           capture_output=True)
            return self.workdir / name

        broker = keygen("broker")
        allow = []
        for lang in languages:
            for role, permission in (("service", f"serve={sid_of(lang)}"), ("client", "call=*")):
                key = keygen(f"{lang}-{role}")
                allow.append(f"{key.with_suffix('.pub').read_text().strip()} name={lang}-{role} {permission}")
                self.keys[f"{role}-{lang}"] = {"ZSS_BROKER_KEY": f"{broker}.pub", "ZSS_KEY": f"{key}.key"}
        driver = keygen("driver")
        allow.append(f"{driver.with_suffix('.pub').read_text().strip()} name=driver call=SMI")
        self.keys["driver"] = {"ZSS_BROKER_KEY": f"{broker}.pub", "ZSS_KEY": f"{driver}.key"}
        (self.workdir / "allow.txt").write_text("\n".join(allow) + "\n")
        return ["--curve-secret", f"{broker}.key", "--allow", str(self.workdir / "allow.txt")]

    def env(self, name: str, extra_env: Dict[str, str]) -> Dict[str, str]:
        """The environment of program `name`: ours without CURVE keys, plus its own in --curve."""
        env = {k: v for k, v in os.environ.items() if k not in ("ZSS_BROKER_KEY", "ZSS_KEY")}
        return dict(env, **extra_env, **self.keys.get(name, {}))

    def spawn(self, name: str, command: List[str], extra_env: Dict[str, str]) -> subprocess.Popen:
        log = self.workdir / f"{name}.log"
        require_program(name, command)
        env = self.env(name, extra_env)
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                                   stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        self.processes.append((name, process, log))
        return process

    def start(self, services: List[str], clients: List[str]) -> None:
        zss = self.args.zss
        curve = self.curve_keys(sorted(set(services) | set(clients))) if self.args.curve else []
        self.spawn("broker", [zss, "broker", "--frontend", self.frontend, "--backend", self.backend,
                              "--log-level", "warn", *curve], {})
        for lang in services:
            command, _, env = programs(lang)
            self.spawn(f"service-{lang}", command + [self.backend, sid_of(lang)], env)
        self.wait_registered(services)

    def wait_registered(self, services: List[str]) -> None:
        deadline = time.monotonic() + self.args.startup_timeout
        wanted = {sid_of(lang) for lang in services}
        while True:
            for name, process, log in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"matrix: {name} exited with {process.returncode} while starting:\n"
                                     + log.read_text(errors="replace")[-3000:])
            out = subprocess.run([self.args.zss, "services", "--broker", self.frontend, "--json",
                                  "--log-level", "error"], capture_output=True, text=True, env=self.env("driver", {}))
            registered = set(json.loads(out.stdout)) if out.returncode == 0 and out.stdout.strip() else set()
            if wanted <= registered:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"matrix: services not registered after {self.args.startup_timeout} s: "
                                 f"{sorted(wanted - registered)}")
            time.sleep(0.1)

    def run_client(self, lang: str, services: List[str], tagged: Path, tsv: Path) -> Tuple[Dict[Tuple[str, str], Dict[str, Any]], str, float]:
        _, command, env = programs(lang)
        require_program(f"{lang} client", command)
        scenario_file = tsv if lang in PLAIN_JSON else tagged
        command = command + [self.frontend, str(scenario_file)] + [sid_of(s) for s in services]
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, env=self.env(f"client-{lang}", env), cwd=ROOT,
                                  timeout=self.args.client_timeout, stdin=subprocess.DEVNULL)
            out, err, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired as e:
            out, err, code = e.stdout or b"", (e.stderr or b"") + b"\n(killed: client timeout)", None
        elapsed = time.monotonic() - started
        results: Dict[Tuple[str, str], Dict[str, Any]] = {}
        noise = []
        for line in out.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                results[(record["service"], record["id"])] = record
            except (ValueError, KeyError, TypeError):
                noise.append(line)
        trouble = ""
        if code != 0:
            trouble = f"client exited with {code}"
        if noise:
            trouble += ("; " if trouble else "") + f"{len(noise)} unparsable output lines, first: {noise[0][:200]!r}"
        if trouble:
            trouble += "\n" + err.decode("utf-8", errors="replace")[-2000:]
        return results, trouble, elapsed

    def stop(self) -> List[str]:
        """Stops services then the broker; a service that does not exit cleanly is a failure."""
        problems = []
        for name, process, log in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                problems.append(f"{name} did not stop within 15 s of SIGTERM")
                continue
            if not self.exited_cleanly(name, process.returncode):
                problems.append(f"{name} exited with {process.returncode}:\n"
                                + log.read_text(errors="replace")[-2000:])
        return problems

    def exited_cleanly(self, name: str, code: int) -> bool:
        """Whether `name` exiting with `code` after SIGTERM is a clean stop (a subclass may know
        of a program that exits otherwise)."""
        return code == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default=",".join(LANGUAGES))
    parser.add_argument("--services", default=",".join(LANGUAGES))
    parser.add_argument("--zss", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "zss"))
    parser.add_argument("--table", default=str(HERE / "scenarios.json"))
    parser.add_argument("--startup-timeout", type=float, default=60.0)
    parser.add_argument("--client-timeout", type=float, default=300.0)
    parser.add_argument("--show", type=int, default=40, help="how many differing cells to print in full")
    parser.add_argument("--curve", action="store_true",
                        help="encrypt everything: a CURVE broker with an allow list, a key pair per program")
    args = parser.parse_args()
    clients = [c for c in args.clients.split(",") if c]
    services = [s for s in args.services.split(",") if s]
    for lang in clients + services:
        if lang not in LANGUAGES:
            parser.error(f"unknown language {lang!r} (one of {', '.join(LANGUAGES)})")

    scenarios = load_table(Path(args.table))
    failures: List[str] = []
    cells: Dict[Tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory(prefix="zss-matrix-") as tmp:
        workdir = Path(tmp)
        tagged, tsv = write_call_files(scenarios, workdir)
        matrix = Matrix(args, workdir)
        try:
            matrix.start(services, clients)
            mode = "CURVE (a key pair per program, allow list)" if args.curve else "plaintext"
            print(f"matrix: {len(scenarios)} scenarios per cell; broker and {len(services)} services up; {mode}", flush=True)
            for client in clients:
                results, trouble, elapsed = matrix.run_client(client, services, tagged, tsv)
                print(f"matrix: {client} client ran {len(results)} calls in {elapsed:.1f} s", flush=True)
                if trouble:
                    failures.append(f"[{client} client] {trouble}")
                for service in services:
                    passed = 0
                    for scenario in scenarios:
                        problem = check(scenario, client, service, results.get((sid_of(service), scenario.id)))
                        if problem:
                            failures.append(f"{scenario.id}: {client} client → {service} service: {problem}")
                        else:
                            passed += 1
                    cells[(client, service)] = passed
        finally:
            failures.extend(f"[shutdown] {p}" for p in matrix.stop())

    width = max(8, max(len(s) for s in services) + 2)
    print()
    corner = "client \\ service"
    print(f"{corner:<18}" + "".join(f"{s:>{width}}" for s in services))
    for client in clients:
        row = ""
        for service in services:
            passed = cells.get((client, service))
            mark = "-" if passed is None else ("ok" if passed == len(scenarios) else f"{passed}/{len(scenarios)}")
            row += f"{mark:>{width}}"
        print(f"{client:<18}" + row)
    print()
    if failures:
        print(f"matrix: {len(failures)} differences", file=sys.stderr)
        for line in failures[: args.show]:
            print(f"  FAIL {line}", file=sys.stderr)
        if len(failures) > args.show:
            print(f"  ... and {len(failures) - args.show} more", file=sys.stderr)
        return 1
    print(f"matrix: all {len(clients) * len(services)} cells agree with the table "
          f"({len(scenarios)} scenarios each{', over CURVE' if args.curve else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
