"""`make run-scaled`: the compose topology on this machine, without Docker.

SeaweedFS S3 (its data and key pair kept in VAULT_SCALED_DIR, default
./var-scaled, so a rerun finds the same objects), a database on the local
PostgreSQL (created when missing), `vault init`, then the web app under
gunicorn with two workers on PORT and the retention scheduler. Everything
binds 127.0.0.1. Ctrl-C stops all of it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.seaweed import SeaweedServer

ADMIN_URL = os.environ.get("VAULT_SCALED_POSTGRES_ADMIN_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("VAULT_SCALED_DATABASE", "vault_scaled")
VAULT = str(Path(sys.executable).with_name("vault"))


def ensure_database() -> str:
    """The URL of the scaled vault's database, made on first use."""
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [DATABASE]).fetchone()
        if not found:
            admin.execute(sql.SQL("CREATE DATABASE {}")
                          .format(sql.Identifier(DATABASE)))
            print(f"created PostgreSQL database {DATABASE}")
    params = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    user = params.get("user", "postgres")
    host = params.get("host", "127.0.0.1")
    return f"postgresql://{user}@{host}:{params.get('port', 5432)}/{DATABASE}"


def seaweed_server(folder: Path) -> SeaweedServer:
    """The S3 server of earlier runs (same data and keys, fresh ports) or a new one."""
    saved = folder / "server.json"
    if saved.exists():
        state = json.loads(saved.read_text())
        server = SeaweedServer(folder, state["access_key"], state["secret_key"])
    else:
        server = SeaweedServer(folder)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        saved.write_text(json.dumps({"access_key": server.access_key,
                                     "secret_key": server.secret_key}))
        saved.chmod(0o600)
    return server


def stop_on_terminate(_signal, _frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, stop_on_terminate)
    root = Path(os.environ.get("VAULT_SCALED_DIR", "var-scaled")).resolve()
    port = os.environ.get("PORT", "8000")
    seaweed = seaweed_server(root / "seaweed").start()
    s3 = seaweed.s3_settings()
    env = dict(os.environ, VAULT_DATA_DIR=str(root / "data"),
               VAULT_DATABASE_URL=ensure_database(),
               VAULT_STORE_URL="s3://vault-evidence",
               VAULT_S3_ENDPOINT=s3.endpoint, VAULT_S3_ACCESS_KEY=s3.access_key,
               VAULT_S3_SECRET_KEY=s3.secret_key, VAULT_S3_REGION=s3.region)
    settings_file = root / "vault.env"
    settings_file.write_text("".join(
        f"export {name}={env[name]}\n" for name in sorted(env)
        if name.startswith("VAULT_")))
    settings_file.chmod(0o600)
    processes = []
    try:
        subprocess.run([VAULT, "init"], env=env, check=True)
        processes.append(subprocess.Popen(
            [VAULT, "serve", "--host", "127.0.0.1", "--port", port, "--workers", "2"],
            env=env))
        processes.append(subprocess.Popen([VAULT, "scheduler"], env=env))
        print(f"S3 (SeaweedFS) at {seaweed.endpoint}, database {DATABASE}, "
              f"web on http://127.0.0.1:{port}/ with two workers, scheduler running. "
              f"Ctrl-C stops everything. For `vault` commands against it, first "
              f"`. {settings_file}`.", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        failed = [process.args[1] for process in processes if process.poll()]
        if failed:
            print(f"stopped: `vault {failed[0]}` exited", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (or the terminal's to the whole group) must not cut
        # the shutdown short and leave a server running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        seaweed.stop()


if __name__ == "__main__":
    main()
