"""The vault's errors, each carrying the stable code that the API returns.

VaultError                 root; `code` (snake_case), `status` (HTTP), message
├── NotFound               a record that does not exist or is not yours (404)
├── Forbidden              a role that may not do this (403)
│   └── AgreementMissing   the district has no tracking agreement (403)
├── InvalidRequest         a request a person must correct (400 / 422)
├── Conflict               the record's state forbids it (409)
│   └── EvidenceIncomplete a certificate asked for before the evidence is in
├── StorageError           the object store failed (503)
│   ├── ObjectMissing      the object behind a record is gone
│   └── ObjectLocked       a write-once object asked to go before its date (409)
├── EvidenceRemoved        its data key destroyed under retention (410)
└── IntegrityError         stored bytes fail authentication (never served)

Packages add their own beside the interface that raises them
(`ingest.errors.DocumentRejected`).
"""


class VaultError(Exception):
    """Root of the vault's errors; `code` is stable, the message is for people."""

    code = "vault_error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None,
                 status: int | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}


class NotFound(VaultError):
    code = "not_found"
    status = 404


class Forbidden(VaultError):
    code = "forbidden"
    status = 403


class AgreementMissing(Forbidden):
    code = "agreement_missing"


class InvalidRequest(VaultError):
    code = "invalid_request"
    status = 400


class Conflict(VaultError):
    code = "conflict"
    status = 409


class EvidenceIncomplete(Conflict):
    """A certificate was asked for while evidence is missing; `missing` lists it."""

    code = "incomplete"

    def __init__(self, message: str, missing: list[dict]):
        super().__init__(message, details={"missing": missing})
        self.missing = missing


class StorageError(VaultError):
    code = "storage_unavailable"
    status = 503


class ObjectMissing(StorageError):
    code = "object_missing"
    status = 500


class ObjectLocked(StorageError):
    """A write-once object may not be deleted or replaced before its date."""

    code = "object_locked"
    status = 409


class EvidenceRemoved(VaultError):
    """The record's data key was destroyed under retention: the bytes are gone."""

    code = "evidence_removed"
    status = 410


class IntegrityError(VaultError):
    """Stored ciphertext failed authentication: the bytes are never served."""

    code = "integrity_error"
    status = 500
