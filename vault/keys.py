"""Key rotation: a new master key version, then every data key rewrapped under it;
a new signing key version, the old public keys kept.

Rewrapping touches rows only: each data key is unwrapped with its version and
wrapped again with the newest, bound to the same object key; no object body is
read or rewritten. The work goes in batches, each its own transaction, so an
interrupted rotation resumes by running again (rows on the newest version are
skipped). Reads keep working throughout: every version still unwraps, and a
keyring notices a version added to the key folder on its next use.
"""

import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.audit import AuditCheckpoint, record_event
from vault.crypto import MasterKeyring, SigningKey, WrappedKey, object_context
from vault.db import unit_of_work
from vault.errors import VaultError
from vault.models import Certificate, EvidenceDocument, SealedPackage
from vault.objects import DESTROYED_KEY
from vault.runtime import Runtime

log = logging.getLogger(__name__)

ENCRYPTED_RECORDS = (EvidenceDocument, Certificate, SealedPackage, AuditCheckpoint)
REWRAP_BATCH = 200


def add_master_version(runtime: Runtime) -> int:
    """Write master key version N+1 to the key folder; returns N+1."""
    if runtime.settings.master_keys:
        raise VaultError("Master keys come from VAULT_MASTER_KEYS: add the new "
                         "version there, restart, and run `vault keys rotate "
                         "--resume`.", code="keys_from_environment")
    keyring = runtime.keyring
    keyring.refresh()
    version = keyring.current_version + 1
    MasterKeyring.create(runtime.settings.key_dir, version)
    keyring.refresh()
    log.info("master_key_added version=%d", version)
    return version


def add_signing_version(runtime: Runtime) -> SigningKey:
    """Write signing key version N+1; older versions stay for verification."""
    if runtime.settings.signing_key:
        raise VaultError("The signing key comes from VAULT_SIGNING_KEY: replace it "
                         "there; keep the old public key to verify old packages.",
                         code="keys_from_environment")
    version = runtime.signing_key.version + 1
    SigningKey.create(runtime.settings.key_dir, version)
    # Runtime caches the key it loaded; forget it so the new version signs now.
    runtime.__dict__.pop("signing_key", None)
    log.info("signing_key_added version=%d", version)
    return runtime.signing_key


def _stale(model, current: int):
    """Rows whose data key is wrapped under an older version (and not destroyed
    by the retention sweep: nothing is left to rewrap there)."""
    return ((model.key_version < current) & model.wrapped_key.is_not(None)
            & (model.wrapped_key != DESTROYED_KEY))


def stale_keys(runtime: Runtime, session: Session) -> int:
    """How many data keys are still wrapped under an older master version."""
    current = runtime.keyring.current_version
    return sum(session.scalar(select(func.count()).select_from(model)
                              .where(_stale(model, current)))
               for model in ENCRYPTED_RECORDS)


def rewrap_batch(runtime: Runtime, session: Session, model,
                 limit: int = REWRAP_BATCH) -> int:
    """Rewrap up to `limit` stale data keys of one table; returns how many."""
    keyring = runtime.keyring
    rows = session.scalars(select(model).where(_stale(model, keyring.current_version))
                           .order_by(model.object_key).limit(limit)
                           .with_for_update()).all()
    for row in rows:
        context = object_context(row.object_key)
        data_key = keyring.unwrap(WrappedKey(row.key_version, row.wrapped_key), context)
        wrapped = keyring.wrap(data_key, context)
        row.wrapped_key, row.key_version = wrapped.blob, wrapped.version
    return len(rows)


def rewrap_all(runtime: Runtime, progress: Callable[[int], None] | None = None,
               limit: int = REWRAP_BATCH) -> int:
    """Rewrap every stale data key, one committed batch at a time."""
    total = 0
    for model in ENCRYPTED_RECORDS:
        while True:
            with unit_of_work(runtime.sessions) as session:
                done = rewrap_batch(runtime, session, model, limit)
            total += done
            if progress is not None and done:
                progress(done)
            if done < limit:
                break
    with unit_of_work(runtime.sessions) as session:
        record_event(session, None, "data_keys_rewrapped", rewrapped=total,
                     master_version=runtime.keyring.current_version)
    log.info("data_keys_rewrapped count=%d version=%d", total,
             runtime.keyring.current_version)
    return total
