"""Settings from the environment, with working defaults for one machine."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class CheckLimits:
    """Limits on the worker process that checks one uploaded PDF."""

    cpu_seconds: int = 20
    wall_seconds: float = 30.0
    memory_mb: int = 1024
    max_pages: int = 2000
    max_objects: int = 300_000
    text_chars: int = 200_000


@dataclass(frozen=True)
class S3Settings:
    """Where the S3 store is and how to sign in to it (VAULT_S3_*)."""

    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    region: str | None = None
    lock_mode: str = "GOVERNANCE"

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")

    @property
    def host(self) -> str:
        """The endpoint as minio wants it: host[:port], no scheme."""
        return self.endpoint.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class Settings:
    """Everything the vault reads from its environment."""

    data_dir: Path
    database_url: str
    store_url: str
    timezone: ZoneInfo
    max_upload_mb: int
    check_limits: CheckLimits = field(default_factory=CheckLimits)
    s3: S3Settings = field(default_factory=S3Settings)
    secret_key: str | None = None
    master_keys: str | None = None
    signing_key: str | None = None

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        """Read VAULT_* variables; anything unset takes its one-machine default."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("VAULT_DATA_DIR") or "./var").resolve()
        database_url = env.get("VAULT_DATABASE_URL") or (
            f"sqlite:///{data_dir / 'vault.sqlite3'}"
        )
        store_url = env.get("VAULT_STORE_URL") or f"file://{data_dir / 'objects'}"
        limits = CheckLimits(
            cpu_seconds=int(env.get("VAULT_CHECK_CPU_SECONDS", 20)),
            wall_seconds=float(env.get("VAULT_CHECK_WALL_SECONDS", 30)),
            memory_mb=int(env.get("VAULT_CHECK_MEMORY_MB", 1024)),
            max_pages=int(env.get("VAULT_MAX_PAGES", 2000)),
            max_objects=int(env.get("VAULT_MAX_OBJECTS", 300_000)),
        )
        s3 = S3Settings(
            endpoint=env.get("VAULT_S3_ENDPOINT", ""),
            access_key=env.get("VAULT_S3_ACCESS_KEY", ""),
            secret_key=env.get("VAULT_S3_SECRET_KEY", ""),
            region=env.get("VAULT_S3_REGION") or None,
            lock_mode=(env.get("VAULT_S3_LOCK_MODE") or "GOVERNANCE").upper(),
        )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            store_url=store_url,
            timezone=ZoneInfo(env.get("VAULT_TIMEZONE") or "America/Chicago"),
            max_upload_mb=int(env.get("VAULT_MAX_UPLOAD_MB") or 50),
            check_limits=limits,
            s3=s3,
            secret_key=env.get("VAULT_SECRET_KEY") or None,
            master_keys=env.get("VAULT_MASTER_KEYS") or None,
            signing_key=env.get("VAULT_SIGNING_KEY") or None,
        )
