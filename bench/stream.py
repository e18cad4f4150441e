"""A 200 MB PDF through the API on S3: speed beside a raw S3 PUT, and memory.

    .venv/bin/python bench/stream.py [--megabytes 200] [--rounds 2]

Starts a SeaweedFS S3 server and `vault serve` (two gunicorn workers) on free
127.0.0.1 ports, with a fresh PostgreSQL database when the local server
answers (SQLite otherwise), then measures in one run:
  raw PUT     minio's fput_object of the same file to the same server
  upload      the file through POST /api/v1/students/{lasid}/documents: received,
              checked in the worker process, encrypted, stored, committed
  download    GET /api/v1/documents/{id}/content, read to the end and hashed
and the web workers' peak memory growth (their VmHWM after the transfer less
their resident size before it; the PDF check runs in a child process of its
own with its own limit, and its peak is printed apart). Figures, not asserts.
"""

import argparse
import hashlib
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from statistics import median

import pikepdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devstack.seaweed import SeaweedServer, free_ports  # noqa: E402

VAULT = str(Path(sys.executable).with_name("vault"))
PASSWORD = "benchmark password 1234"
LASID = "0400000001"
CHUNK = 1 << 20
MIB = 1024 * 1024


def write_padded_pdf(path: Path, megabytes: int) -> None:
    """A valid one-page PDF of about `megabytes`, padded with incompressible data."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    filler = pdf.make_stream(os.urandom(megabytes * MIB - 2048))
    pdf.pages[0].obj["/PieceInfo"] = pikepdf.Dictionary(Filler=filler)
    pdf.save(path, compress_streams=False)


def cli(env: dict, *args: str, stdin: str = "") -> str:
    return subprocess.run([VAULT, *args], env=env, input=stdin, text=True,
                          capture_output=True, check=True).stdout


def temporary_database() -> tuple[str | None, callable]:
    """A fresh PostgreSQL database and its dropper, or (None, no-op)."""
    try:
        import psycopg

        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        name = "vault_bench_" + secrets.token_hex(4)
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as db:
            db.execute(f'CREATE DATABASE "{name}"')
    except Exception as error:  # no PostgreSQL here: SQLite does for streaming
        print(f"PostgreSQL unavailable ({type(error).__name__}); using SQLite")
        return None, lambda: None

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"postgresql://postgres@127.0.0.1:5432/{name}", drop


def children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found = []
        for task in tasks:
            found += [int(child) for child in
                      (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the present resident size (Linux 4.0+)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class ChildPeak(threading.Thread):
    """The highest resident size seen among the web workers' child processes."""

    def __init__(self, workers: list[int]):
        super().__init__(daemon=True)
        self.workers = workers
        self.peak_kib = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            for worker in self.workers:
                for child in children(worker):
                    try:
                        self.peak_kib = max(self.peak_kib, memory_kib(child, "VmRSS"))
                    except OSError:
                        pass
            time.sleep(0.02)


def upload(port: int, token: str, path: Path) -> tuple[float, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
            f"sa_round1\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="bench.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with open(path, "rb") as file:
            while block := file.read(CHUNK):
                yield block
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    connection.request("POST", f"/api/v1/students/{LASID}/documents", body=body(),
                       headers={
                           "Authorization": f"Bearer {token}",
                           "Content-Type": f"multipart/form-data; boundary={boundary}",
                           "Content-Length": str(len(head) + path.stat().st_size
                                                 + len(tail))})
    answer = connection.getresponse()
    reply = json.loads(answer.read())
    elapsed = time.perf_counter() - began
    connection.close()
    if answer.status != 201:
        raise SystemExit(f"upload failed: {answer.status} {reply}")
    return elapsed, reply["id"]


def download(port: int, token: str, document_id: str) -> tuple[float, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    connection.request("GET", f"/api/v1/documents/{document_id}/content",
                       headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    digest = hashlib.sha256()
    while block := answer.read(CHUNK):
        digest.update(block)
    elapsed = time.perf_counter() - began
    connection.close()
    return elapsed, digest.hexdigest()


def raw_put_seconds(server: SeaweedServer, bucket: str, path: Path) -> float:
    from minio import Minio

    client = Minio(server.endpoint.split("://")[1], access_key=server.access_key,
                   secret_key=server.secret_key, secure=False, region="us-east-1")
    name = "raw/" + uuid.uuid4().hex
    began = time.perf_counter()
    client.fput_object(bucket, name, str(path))
    elapsed = time.perf_counter() - began
    versions = client.list_objects(bucket, prefix=name, include_version=True)
    for version in versions:
        client.remove_object(bucket, name, version_id=version.version_id)
    return elapsed


def start_vault(env: dict) -> tuple[subprocess.Popen, int, str]:
    cli(env, "init")
    cli(env, "district", "add", "B1", "Bench District", "--agreement-signed",
        "2026-01-05")
    cli(env, "user", "add", "bench@vault.test", "--role", "uploader", "--district",
        "B1", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    token = cli(env, "token", "create", "bench@vault.test").strip().splitlines()[-1]
    port = free_ports(1)[0]
    server = subprocess.Popen([VAULT, "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            ready = connection.getresponse().status == 200
            if ready and len(children(server.pid)) == 2:
                return server, port, token
        except OSError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the vault did not start")


def enrol(port: int, token: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("PUT", f"/api/v1/students/{LASID}", body=json.dumps({
        "first_name": "Bench", "last_name": "Student", "school": "Bench High",
        "cohort": 2027}), headers={"Authorization": f"Bearer {token}",
                                   "Content-Type": "application/json"})
    answer = connection.getresponse()
    reply = answer.read()
    if answer.status not in (200, 201):
        raise SystemExit(f"enrolment failed: {answer.status} {reply[:300]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vault-stream-") as folder:
        folder = Path(folder)
        pdf = folder / "big.pdf"
        write_padded_pdf(pdf, options.megabytes)
        size_mb = pdf.stat().st_size / MIB
        database_url, drop_database = temporary_database()
        seaweed = SeaweedServer(folder / "weed").start()
        s3 = seaweed.s3_settings()
        env = dict(os.environ, VAULT_DATA_DIR=str(folder / "data"),
                   VAULT_STORE_URL="s3://vault-bench/objects",
                   VAULT_S3_ENDPOINT=s3.endpoint, VAULT_S3_ACCESS_KEY=s3.access_key,
                   VAULT_S3_SECRET_KEY=s3.secret_key, VAULT_S3_REGION=s3.region,
                   VAULT_MAX_UPLOAD_MB=str(options.megabytes + 50))
        if database_url:
            env["VAULT_DATABASE_URL"] = database_url
        server = None
        try:
            server, port, token = start_vault(env)
            enrol(port, token)
            small = folder / "small.pdf"
            write_padded_pdf(small, 1)
            upload(port, token, small)  # warm both code paths once
            workers = children(server.pid)

            uploads, downloads, raws, growths, check_peaks = [], [], [], [], []
            for _ in range(options.rounds):
                raws.append(raw_put_seconds(seaweed, "vault-bench", pdf))
                before = {pid: memory_kib(pid, "VmRSS") for pid in workers}
                for pid in workers:
                    reset_peak(pid)
                watcher = ChildPeak(workers)
                watcher.start()
                seconds, document_id = upload(port, token, pdf)
                uploads.append(seconds)
                seconds, digest = download(port, token, document_id)
                downloads.append(seconds)
                watcher.running = False
                watcher.join()
                growths.append(max(memory_kib(pid, "VmHWM") - before[pid]
                                   for pid in workers) / 1024)
                check_peaks.append(watcher.peak_kib / 1024)
                expected = hashlib.sha256(pdf.read_bytes()).hexdigest()
                if digest != expected:
                    raise SystemExit("the download differs from the upload")

            raw, up, down = median(raws), median(uploads), median(downloads)
            print(f"file {size_mb:.0f} MiB, {options.rounds} rounds, "
                  f"database {'PostgreSQL' if database_url else 'SQLite'}")
            print(f"raw S3 PUT   {size_mb / raw:7.1f} MiB/s")
            print(f"API upload   {size_mb / up:7.1f} MiB/s  "
                  f"= {raw / up:.2f} x the raw PUT")
            print(f"API download {size_mb / down:7.1f} MiB/s")
            print(f"web worker peak growth {max(growths):.1f} MiB "
                  f"(limit 64 MiB); PDF check process peak {max(check_peaks):.0f} MiB")
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
            seaweed.stop()
            drop_database()


if __name__ == "__main__":
    main()
