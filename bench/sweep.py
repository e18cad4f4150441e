"""How fast the retention sweep removes due documents from S3.

Starts a SeaweedFS server of its own (127.0.0.1 only), fills a vault (SQLite
metadata, S3 objects) with --count due documents, three per student, and times
one real sweep: keys destroyed, every version of every object deleted, rows
removed, tombstones, audit events and a receipt written. Beside it, in the same
run and on the same server, the raw baseline: as many objects of the same size
put straight through minio and removed with one batched `remove_objects` (the
S3 multi-object delete, 1,000 keys a request, version ids given).

    .venv/bin/python bench/sweep.py --count 5000
"""

import argparse
import io
import logging
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minio.deleteobjects import DeleteObject  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from devstack.seaweed import SeaweedServer  # noqa: E402
from retention.lock import sweep_lock  # noqa: E402
from retention.sweep import run_sweep  # noqa: E402
from vault.config import Settings  # noqa: E402
from vault.crypto import ensure_keys  # noqa: E402
from vault.db import unit_of_work  # noqa: E402
from vault.models import District, EvidenceDocument, Student, new_id  # noqa: E402
from vault.runtime import Runtime  # noqa: E402
from vault.schema import upgrade  # noqa: E402

OBJECT_SIZE = 4096
PER_STUDENT = 3
PUT_WORKERS = 8
UPLOADED = datetime(2024, 1, 10, 15, 0, tzinfo=timezone.utc)


def vault_on(server: SeaweedServer, folder: Path) -> Runtime:
    s3 = server.s3_settings()
    settings = Settings.from_env({
        "VAULT_DATA_DIR": str(folder / "data"),
        "VAULT_STORE_URL": f"s3://{server.bucket}/vault",
        "VAULT_S3_ENDPOINT": s3.endpoint, "VAULT_S3_ACCESS_KEY": s3.access_key,
        "VAULT_S3_SECRET_KEY": s3.secret_key, "VAULT_S3_REGION": s3.region})
    settings.data_dir.mkdir(parents=True)
    ensure_keys(settings.key_dir)
    runtime = Runtime.from_settings(settings)
    runtime.store.create()
    upgrade(runtime.engine)
    return runtime


def fill(runtime: Runtime, count: int) -> None:
    """`count` due documents (objects and rows), three per student."""
    keys = [new_id() for _ in range(count)]
    body = secrets.token_bytes(OBJECT_SIZE)
    with ThreadPoolExecutor(PUT_WORKERS) as pool:
        list(pool.map(lambda key: runtime.store.put(key, io.BytesIO(body)), keys))

    with unit_of_work(runtime.sessions) as session:
        district = District(code="BENCH", name="Bench Schools",
                            agreement_signed_on=date(2023, 8, 1))
        session.add(district)
        session.flush()
        students = [{"district_id": district.id, "lasid": f"{n:010d}",
                     "first_name": "Bench", "last_name": f"Student {n}",
                     "school": "Bench High", "cohort": 2025}
                    for n in range((count + PER_STUDENT - 1) // PER_STUDENT)]
        session.execute(insert(Student), students)
        ids = {lasid: id_ for id_, lasid in session.execute(
            Student.__table__.select().with_only_columns(Student.id, Student.lasid))}
        session.execute(insert(EvidenceDocument), [
            {"id": new_id(), "student_id": ids[f"{n // PER_STUDENT:010d}"],
             "district_id": district.id, "kind": "sa_round1",
             "filename": "report.pdf", "pages": 1, "warnings": [],
             "object_key": key, "wrapped_key": secrets.token_bytes(60),
             "key_version": 1, "sha256": "0" * 64, "size": OBJECT_SIZE,
             "uploaded_at": UPLOADED} for n, key in enumerate(keys)])


def raw_batch_delete(server: SeaweedServer, runtime: Runtime, count: int) -> float:
    """Seconds minio's remove_objects takes for `count` objects (every version)."""
    client = runtime.store.client
    body = secrets.token_bytes(OBJECT_SIZE)
    names = [f"raw/{new_id()}" for _ in range(count)]

    def put(name: str) -> DeleteObject:
        written = client.put_object(server.bucket, name, io.BytesIO(body),
                                    OBJECT_SIZE)
        return DeleteObject(name, written.version_id)

    with ThreadPoolExecutor(PUT_WORKERS) as pool:
        targets = list(pool.map(put, names))

    started = time.perf_counter()
    errors = list(client.remove_objects(server.bucket, iter(targets)))
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"raw delete failed for {len(errors)} objects: {errors[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000,
                        help="due documents to sweep (default 100,000)")
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as folder, \
            SeaweedServer(Path(folder) / "seaweed") as server:
        server.bucket = "bench-" + secrets.token_hex(4)
        runtime = vault_on(server, Path(folder))

        started = time.perf_counter()
        fill(runtime, options.count)
        print(f"filled {options.count} due documents in "
              f"{time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        with sweep_lock(runtime.engine) as lock:
            report = run_sweep(runtime, lock=lock)
        swept = time.perf_counter() - started
        assert report.counts["documents"] == options.count, report.counts
        assert report.counts["objects_deleted"] == options.count
        # Only the signed receipts stay (each lists at most 50,000 tombstones).
        left = sum(1 for key in runtime.store.keys())
        receipts = report.counts["receipts"]
        assert left == receipts, f"{left} objects left, {receipts} receipts written"

        raw = raw_batch_delete(server, runtime, options.count)
        runtime.store.close()
        runtime.engine.dispose()

    sweep_rate, raw_rate = options.count / swept, options.count / raw
    print(f"sweep: {options.count} documents in {swept:.1f} s = "
          f"{sweep_rate:,.0f} documents/s (rows, keys, tombstones, receipt included)")
    print(f"raw remove_objects: {options.count} objects in {raw:.1f} s = "
          f"{raw_rate:,.0f} objects/s")
    print(f"sweep / raw: {sweep_rate / raw_rate:.2f}")


if __name__ == "__main__":
    os.umask(0o077)
    main()
