"""Why an upload is not kept as evidence: the 422 the API returns for a bad PDF."""

from vault.errors import VaultError

REJECTION_CODES = frozenset({"not_pdf", "encrypted", "malformed", "too_many_pages"})


class DocumentRejected(VaultError):
    """The uploaded file is not a PDF the vault can keep; `code` says why."""

    code = "document_rejected"
    status = 422

    def __init__(self, code: str, message: str):
        if code not in REJECTION_CODES:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(message, code=code)
