"""Start the shared Salesforce emulator (../shared/fake_salesforce) for tests and drive its admin API.

Plain functions and classes, so any conftest can build fixtures on them:

    server = fake_sf.shared_server()          # one process per test session, stopped at exit
    admin = fake_sf.Admin(server)
    admin.reset(count=500)
"""
from __future__ import annotations

import atexit
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
EMULATOR_DIR = REPO_ROOT.parent / "shared" / "fake_salesforce"
SKIP_REASON = (
    f"the Salesforce emulator is not available (expected {EMULATOR_DIR}/server.py, which lives beside the "
    "project in ../shared and is not part of a clone)"
)
# Settings every test starts from; a test changes them through Admin.config().
DEFAULT_CONFIG = {
    "page_size": 2000,
    "api_limit": 5_000_000,
    "api_used": 0,
    "latency_ms": 0,
    "max_open_cursors": 10,
    "replication_window_days": 30,
    "bulk_delay_s": 0.2,
}


def available() -> bool:
    return (EMULATOR_DIR / "server.py").is_file()


@dataclass
class FakeServer:
    """A running emulator process and what a client needs to reach it."""

    instance_url: str
    session_id: str
    ca_bundle: str
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def start_server(*extra_args: str, seed_count: int = 0) -> FakeServer:
    """Start the emulator on a free port with a throwaway CA and wait for its JSON "ready" line."""
    cert_dir = tempfile.mkdtemp(prefix="fake_sf_certs_")
    command = [
        sys.executable,
        str(EMULATOR_DIR / "server.py"),
        "--port", "0",
        "--seed-count", str(seed_count),
        "--cert-dir", cert_dir,
        *extra_args,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        process.kill()
        raise RuntimeError(f"the Salesforce emulator did not start: {' '.join(command)}")
    ready = json.loads(line)
    return FakeServer(ready["instance_url"], ready["session_id"], ready["ca_bundle"], process)


_shared: FakeServer | None = None


def shared_server() -> FakeServer:
    """The one emulator of this test process, started on first use and stopped when the process exits."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = start_server()
        atexit.register(_shared.stop)
    return _shared


class Admin:
    """The emulator's /__admin API: reset and seed data, inject faults, read the client's writes."""

    def __init__(self, server: FakeServer):
        self.server = server
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify` otherwise
        self.http.verify = server.ca_bundle

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(
            method, f"{self.server.instance_url}/__admin/{path}", json=body, params=params or None, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def reset(self, count: int = 0, seed: int = 42, anchor: str | None = None) -> dict:
        """Empty the org (data, writes, faults, sessions, counters), restore DEFAULT_CONFIG, then seed."""
        result = self.call("POST", "reset", {"count": count, "seed": seed, "anchor": anchor})
        self.config(**DEFAULT_CONFIG)
        return result

    def config(self, **settings: Any) -> dict:
        return self.call("POST", "config", settings)

    def fault(self, **rule: Any) -> dict:
        return self.call("POST", "faults", rule)["added"][0]

    def faults(self) -> list[dict]:
        return self.call("GET", "faults")["rules"]

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def mutate(self, **body: Any) -> dict:
        return self.call("POST", "mutate", body)

    def insert_leads(self, records: list[dict]) -> list[dict]:
        return self.call("POST", "leads", {"records": records})["records"]

    def lead(self, crm_id: str) -> dict:
        return self.call("GET", f"leads/{crm_id}")

    def lead_ids(self) -> list[str]:
        return self.call("GET", "leads")["ids"]

    def update_lead(self, crm_id: str, **fields: Any) -> dict:
        return self.call("PATCH", f"leads/{crm_id}", fields)

    def delete_lead(self, crm_id: str) -> dict:
        return self.call("DELETE", f"leads/{crm_id}")

    def convert_lead(self, crm_id: str) -> dict:
        return self.call("POST", f"leads/{crm_id}/convert")

    def writes(self, since: int = 0) -> list[dict]:
        return self.call("GET", "writes", since=since)["writes"]

    def requests(self, since: int = 0) -> list[dict]:
        return self.call("GET", "requests", since=since)["requests"]

    def session(self, **body: Any) -> dict:
        return self.call("POST", "session", body)

    def stats(self) -> dict:
        return self.call("GET", "stats")
