"""Every PDF of the shared corpus gets the verdict its manifest expects."""

import csv
import tempfile
import time
from pathlib import Path

import pytest

from ingest import DocumentRejected, check_pdf
from vault.config import CheckLimits

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "pdfs"
MANIFEST = CORPUS / "MANIFEST.tsv"

# Checks take well under a second; this only catches a gross slowdown.
CORPUS_SECONDS = 5.0

# Words of a row's `why` or `what_it_is` that name the warning it must carry.
WARNING_WORDS = {
    "javascript": "javascript",
    "launch action": "launch_action",
    "attachment": "embedded_files",
    "xfa": "xfa_form",
    "repair": "repaired",
    "damaged": "repaired",
    "password": "empty_password",
}
REJECTION_CODES = {
    "reject-encrypted": {"encrypted"},
    "reject-malformed": {"malformed", "not_pdf"},
}


def manifest_rows() -> list:
    """One test parameter per manifest row, or a single one that skips."""
    if not MANIFEST.exists():
        return [pytest.param(None, id="corpus-missing")]

    with MANIFEST.open(newline="", encoding="utf-8") as lines:
        rows = list(csv.DictReader(lines, delimiter="\t"))
    return [pytest.param(row, id=row["file"]) for row in rows]


def named_warnings(row: dict) -> set[str]:
    """The warning codes a row's description names."""
    description = f"{row['why']} {row['what_it_is']}".lower()
    return {code for word, code in WARNING_WORDS.items() if word in description}


def check_corpus_file(name: str):
    """Check one corpus file through the worker; the verdict or the rejection."""
    with tempfile.TemporaryFile() as file:
        file.write((CORPUS / name).read_bytes())
        try:
            return check_pdf(file, CheckLimits())
        except DocumentRejected as rejection:
            return rejection


@pytest.mark.parametrize("row", manifest_rows())
def test_corpus_file_gets_its_expected_verdict(row):
    if row is None:
        pytest.skip(f"no corpus at {CORPUS}: it sits beside the project, not in it")

    started = time.monotonic()
    outcome = check_corpus_file(row["file"])
    elapsed = time.monotonic() - started

    assert elapsed < CORPUS_SECONDS

    expected = row["expected"]
    if expected.startswith("reject-"):
        assert isinstance(outcome, DocumentRejected), outcome
        assert outcome.code in REJECTION_CODES[expected]
        return

    assert not isinstance(outcome, DocumentRejected), outcome.message
    if expected == "accept":
        assert outcome.warnings == ()
    else:
        assert outcome.warnings
        assert named_warnings(row) <= set(outcome.warning_codes)
