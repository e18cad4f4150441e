"""Throughput of the whole upload path beside raw baselines, in one run.

    .venv/bin/python bench/ingest.py [--rounds N]

Starts `vault serve` on a free 127.0.0.1 port with a fresh data folder, then
for 1 MB and 20 MB PDFs measures:
  upload      HTTP in, checked in the worker, encrypted, stored, committed
  encrypt     the streaming AEAD alone, memory to nowhere
  file write  a plain write of the same bytes to the data folder, fsynced
and prints MB/s and the upload's ratio to each baseline. Figures, not asserts.
"""

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from statistics import median

import pikepdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vault.crypto import DataKey  # noqa: E402

VAULT = str(Path(sys.executable).with_name("vault"))
SIZES_MB = (1, 20)
PASSWORD = "benchmark password 1234"


def padded_pdf(megabytes: int) -> bytes:
    """A valid one-page PDF of about `megabytes`, padded with incompressible data."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    filler = pdf.make_stream(os.urandom(megabytes * 1024 * 1024 - 2048))
    pdf.pages[0].obj["/PieceInfo"] = pikepdf.Dictionary(Filler=filler)
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(env: dict, *args: str, stdin: str = "") -> str:
    done = subprocess.run([VAULT, *args], env=env, input=stdin, text=True,
                          capture_output=True, check=True)
    return done.stdout


def start_server(data_dir: str) -> tuple[subprocess.Popen, str, str]:
    env = dict(os.environ, VAULT_DATA_DIR=data_dir, VAULT_MAX_UPLOAD_MB="64")
    cli(env, "init")
    cli(env, "district", "add", "B1", "Bench District", "--agreement-signed",
        "2026-01-05")
    cli(env, "user", "add", "bench@vault.test", "--role", "uploader", "--district",
        "B1", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    token = cli(env, "token", "create", "bench@vault.test").strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([VAULT, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return server, url, token
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def api(url: str, token: str, method: str, path: str, body: bytes,
        content_type: str) -> dict:
    request = urllib.request.Request(url + path, data=body, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def upload_seconds(url: str, token: str, lasid: str, data: bytes) -> float:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n'
            f"sa_round1\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="bench.pdf"\r\n'
            f"Content-Type: application/pdf\r\n\r\n").encode() + data + (
            f"\r\n--{boundary}--\r\n").encode()
    began = time.perf_counter()
    api(url, token, "POST", f"/api/v1/students/{lasid}/documents", body,
        f"multipart/form-data; boundary={boundary}")
    return time.perf_counter() - began


def encrypt_seconds(data: bytes) -> float:
    began = time.perf_counter()
    reader = DataKey.generate().encrypting_reader(io.BytesIO(data), b"bench")
    while reader.read(1 << 20):
        pass
    return time.perf_counter() - began


def write_seconds(folder: str, data: bytes) -> float:
    path = os.path.join(folder, f"raw-{uuid.uuid4().hex}")
    began = time.perf_counter()
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    elapsed = time.perf_counter() - began
    os.unlink(path)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds

    with tempfile.TemporaryDirectory(prefix="vault-bench-") as folder:
        server, url, token = start_server(os.path.join(folder, "data"))
        try:
            lasid = "0400000001"
            api(url, token, "PUT", f"/api/v1/students/{lasid}", json.dumps({
                "first_name": "Bench", "last_name": "Student", "school": "Bench High",
                "cohort": 2027}).encode(), "application/json")
            print(f"{'size':>6} {'path':<12} {'MB/s':>8}  upload speed as a share")
            for megabytes in SIZES_MB:
                data = padded_pdf(megabytes)
                size_mb = len(data) / (1024 * 1024)
                timings = {
                    "upload": median(upload_seconds(url, token, lasid, data)
                                     for _ in range(rounds)),
                    "encrypt": median(encrypt_seconds(data) for _ in range(rounds)),
                    "file write": median(write_seconds(folder, data)
                                         for _ in range(rounds)),
                }
                for path, seconds in timings.items():
                    share = seconds / timings["upload"]
                    print(f"{megabytes:>4}MB {path:<12} {size_mb / seconds:>8.1f}  "
                          f"{share:.3f} of {path}")
        finally:
            server.terminate()
            server.wait(20)


if __name__ == "__main__":
    main()
