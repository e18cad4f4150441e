"""`make run-scaled`: SeaweedFS, PostgreSQL, two web workers and the scheduler."""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

from devstack.seaweed import free_ports
from tests.postgres import ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
START_SECONDS = 60


def process_tree(pid: int) -> list[str]:
    """The command lines of every descendant of `pid`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            found.append(command.decode())
            found += process_tree(int(child))
    return found


def test_run_scaled_starts_and_stops_the_whole_topology(tmp_path, postgres_databases):
    port = free_ports(1)[0]
    database = "vault_scaled_" + secrets.token_hex(4)
    env = dict(os.environ, PORT=str(port), VAULT_SCALED_DIR=str(tmp_path),
               VAULT_SCALED_DATABASE=database,
               VAULT_SCALED_POSTGRES_ADMIN_URL=ADMIN_URL)
    runner = subprocess.Popen([sys.executable, "-m", "devstack.run_scaled"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        health = None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and runner.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                            timeout=2) as answer:
                    health = answer.status
                    break
            except OSError:
                time.sleep(0.5)
        assert health == 200, runner.stdout.read() if runner.poll() is not None else ""

        commands = process_tree(runner.pid)
        assert sum("weed mini" in command for command in commands) == 1
        assert sum("vault scheduler" in command for command in commands) == 1
        serving = [command for command in commands if "vault serve" in command]
        assert len(serving) == 3  # the gunicorn master and its two workers
        assert all("--host 127.0.0.1" in command for command in serving)
    finally:
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    assert runner.returncode == 0, output
    assert "two workers, scheduler running" in output
    assert not any(str(tmp_path) in command for command in all_command_lines())


def all_command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, UnicodeDecodeError):
            continue
    return lines
