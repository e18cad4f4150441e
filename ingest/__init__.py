"""The check of one uploaded PDF, run in a worker process with hard limits."""

from ingest.errors import DocumentRejected
from ingest.pdfcheck import PdfVerdict

__all__ = ["DocumentRejected", "PdfVerdict", "check_pdf"]


def __getattr__(name: str):
    """Import `check_pdf` on first use.

    `python -m ingest.worker` imports this package before it runs the worker
    module as `__main__`; importing `ingest.worker` here as well would load it
    twice and make runpy warn about it in every worker.
    """
    if name == "check_pdf":
        from ingest.worker import check_pdf

        return check_pdf
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
