"""`make run`: load the demo data, then run the web app and a Celery worker with embedded beat until Ctrl-C."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

READY_TIMEOUT_SECONDS = 60
# Celery's warm shutdown lets a running task finish; past this the stragglers are killed.
STOP_TIMEOUT_SECONDS = 20
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Command(BaseCommand):
    help = "Seed the demo data, start gunicorn and a Celery worker with embedded beat, stop both on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="interface the web app listens on")
        parser.add_argument("--port", type=int, default=8000, help="port the web app listens on")

    def handle(self, *args, host: str, port: int, **options):
        logins = io.StringIO()
        call_command("seed_demo", stdout=logins)
        self.stdout.write(logins.getvalue())

        python = sys.executable
        commands = {
            # gunicorn rather than runserver: the server production uses, threaded, with WhiteNoise serving
            # static files the same way, and no autoreloader process to leave behind on Ctrl-C.
            "web": [python, "-m", "gunicorn", "-c", "config/gunicorn.py", "--bind", f"{host}:{port}", "config.wsgi"],
            # --quiet: no start-up banner, so the URL and logins printed below stay readable.
            "worker": [python, "-m", "celery", "--quiet", "-A", "config", "worker", "-B", "-l", "info", "-c", "2"],
        }
        stop_signal: list[int] = []

        def request_stop(signum, frame):
            stop_signal.append(signum)

        for signum in STOP_SIGNALS:
            signal.signal(signum, request_stop)

        processes: dict[str, subprocess.Popen] = {}
        try:
            for name, command in commands.items():
                # Each child leads its own process group, so stopping it also stops its own children
                # (gunicorn's worker, Celery's pool and its beat) and Ctrl-C reaches them only through here.
                processes[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, process_group=0)
            self._supervise(processes, stop_signal, url=f"http://{_client_host(host)}:{port}/", logins=logins)
        finally:
            _stop_all(processes)
        self.stdout.write("handoff stopped.")

    def _supervise(self, processes, stop_signal: list[int], *, url: str, logins: io.StringIO) -> None:
        started = time.monotonic()
        ready = False
        while not stop_signal:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(f"the {name} process exited with status {process.returncode}; stopping.")
            if not ready:
                ready = _answers(url + "healthz")
                if ready:
                    self._banner(url, logins.getvalue())
                elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                    raise CommandError(f"the web app did not answer at {url} within {READY_TIMEOUT_SECONDS} s.")
            time.sleep(0.5)

    def _banner(self, url: str, logins: str) -> None:
        rule = "=" * 72
        self.stdout.write(self.style.SUCCESS(f"\n{rule}\nhandoff is running at {url}\n"))
        self.stdout.write(logins.strip() or "(seed_demo printed no logins)")
        links = f"admin: {url}admin/    health: {url}healthz    Stop with Ctrl-C."
        self.stdout.write(self.style.SUCCESS(f"\n{links}\n{rule}"))


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    # A second Ctrl-C while stopping must not abandon the children half-way.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    for process in processes.values():
        # To the leader only: gunicorn's master and Celery's main process shut their own children down
        # in order (a task in flight finishes); signalling the whole group would kill the pool mid-task.
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
    for process in processes.values():
        # Also sweeps a group whose leader has exited but left children behind.
        _signal_group(process, signal.SIGKILL)
        process.wait()
