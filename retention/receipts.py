"""Signed receipts of what the sweep removed, one per district and sweep.

A receipt lists the removed records by id and hash, with counts; it holds no
personal data. Its body is canonical JSON (sorted keys, no spaces) signed with
the vault's Ed25519 key; the receipt object is that body with the signature
beside it, kept in write-once storage for RECEIPT_YEARS. Tombstones not yet in
a receipt (those of a sweep killed before it wrote its receipts, too) go into
the next receipt of their district.
"""

import base64
import hashlib
import io
import json
import logging
from collections import Counter, defaultdict
from datetime import date, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from retention.dates import retain_until, years_after
from retention.models import SweepReceipt, Tombstone
from vault.db import unit_of_work
from vault.models import District, new_id, utcnow
from vault.runtime import Runtime

log = logging.getLogger(__name__)

RECEIPT_FORMAT = "mec-retention-receipt/1"
RECEIPT_YEARS = 7
MAX_RECORDS = 50_000


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def write_receipts(runtime: Runtime, run_id: int, as_of: date) -> int:
    """Write a receipt for each district with tombstones in no receipt yet."""
    written = 0
    while True:
        with unit_of_work(runtime.sessions) as session:
            waiting = session.scalars(
                select(Tombstone).where(Tombstone.receipt_id.is_(None))
                .order_by(Tombstone.district_id, Tombstone.id)
                .limit(MAX_RECORDS)).all()
            if not waiting:
                return written
            by_district = defaultdict(list)
            for tombstone in waiting:
                by_district[tombstone.district_id].append(tombstone)
            for district_id, tombstones in by_district.items():
                _write_one(runtime, session, run_id, as_of, district_id, tombstones)
                written += 1


def _write_one(runtime: Runtime, session: Session, run_id: int, as_of: date,
               district_id: int, tombstones: list[Tombstone]) -> SweepReceipt:
    district = session.get(District, district_id)
    counts = Counter(tombstone.record_type for tombstone in tombstones)
    created = utcnow()
    body = {
        "format": RECEIPT_FORMAT,
        "district": district.code,
        "run": run_id,
        "as_of": as_of.isoformat(),
        "created_at": created.isoformat(),
        "counts": dict(sorted(counts.items())),
        "records": [{"type": t.record_type, "id": t.record_id, "sha256": t.sha256,
                     "retention_date": t.retention_date.isoformat(),
                     "removed_at": t.removed_at.isoformat()} for t in tombstones],
    }
    signing_key = runtime.signing_key
    signature = signing_key.sign(canonical(body))
    receipt = {
        "receipt": body,
        "signature": base64.b64encode(signature).decode(),
        "key_version": signing_key.version,
        "public_key": base64.b64encode(signing_key.public_key_bytes()).decode(),
    }
    data = json.dumps(receipt, indent=1, sort_keys=True).encode()

    keep_until = retain_until(years_after(as_of, RECEIPT_YEARS) - timedelta(days=1),
                              runtime.settings.timezone)
    object_key = new_id()
    runtime.store.put(object_key, io.BytesIO(data), retain_until=keep_until)
    row = SweepReceipt(run_id=run_id, district_id=district_id, object_key=object_key,
                       sha256=hashlib.sha256(data).hexdigest(), counts=dict(counts),
                       retain_until=keep_until, created_at=created)
    session.add(row)
    session.flush()
    session.execute(update(Tombstone)
                    .where(Tombstone.id.in_([t.id for t in tombstones]))
                    .values(receipt_id=row.id))
    log.info("receipt_written run=%d district=%s records=%d key=%s", run_id,
             district.code, len(tombstones), object_key)
    return row


def read_receipt(runtime: Runtime, receipt: SweepReceipt) -> dict:
    """The receipt object as stored, parsed."""
    with runtime.store.open(receipt.object_key) as stream:
        return json.loads(stream.read())


def signature_holds(document: dict) -> bool:
    """True when the receipt's signature holds for its body and public key."""
    public_key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode(document["public_key"]))
    try:
        public_key.verify(base64.b64decode(document["signature"]),
                          canonical(document["receipt"]))
    except InvalidSignature:
        return False
    return True


def receipt_json(receipt: SweepReceipt) -> dict:
    return {
        "id": receipt.id,
        "run": receipt.run_id,
        "object_key": receipt.object_key,
        "sha256": receipt.sha256,
        "counts": receipt.counts,
        "created_at": receipt.created_at.isoformat(),
        "retain_until": receipt.retain_until.isoformat()
        if receipt.retain_until else None,
    }
