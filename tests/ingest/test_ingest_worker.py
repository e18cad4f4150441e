"""The worker process: hostile uploads, its limits, and what it prints."""

import io
import logging
import os
import signal
import subprocess
import tempfile

import pikepdf
import pytest

from ingest import DocumentRejected, PdfVerdict, check_pdf
from ingest import worker
from vault.config import CheckLimits

LIMITS = CheckLimits(wall_seconds=20.0)
SELF_REFERENCING_KIDS = (
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
)


def encrypted(data: bytes, encryption: pikepdf.Encryption) -> bytes:
    """The PDF in data, saved again with encryption."""
    buffer = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pdf.save(buffer, encryption=encryption)
    return buffer.getvalue()


def check_bytes(data: bytes, limits: CheckLimits = LIMITS) -> PdfVerdict:
    """Write data to a temporary file, as the upload handler does, and check it."""
    with tempfile.TemporaryFile() as file:
        file.write(data)
        return check_pdf(file, limits)


def rejection_code(data: bytes, limits: CheckLimits = LIMITS) -> str:
    """The code the worker rejects data with; fails the test if it accepts."""
    with pytest.raises(DocumentRejected) as caught:
        check_bytes(data, limits)
    assert caught.value.status == 422
    return caught.value.code


def test_valid_pdf_is_accepted_without_warnings(blank_pdf):
    verdict = check_bytes(blank_pdf(2))

    assert verdict == PdfVerdict(pages=2, warnings=(), text="")


def test_html_page_named_pdf_is_not_a_pdf():
    page = b"<!DOCTYPE html>\n<html><body>Session expired</body></html>\n"

    assert rejection_code(page) == "not_pdf"


def test_empty_file_is_not_a_pdf():
    assert rejection_code(b"") == "not_pdf"


def test_header_after_the_first_kilobyte_is_not_a_pdf(blank_pdf):
    assert rejection_code(b" " * 1024 + blank_pdf(1)) == "not_pdf"


def test_truncated_pdf_is_rejected_or_repaired_never_a_crash(blank_pdf):
    whole = blank_pdf(3)

    try:
        verdict = check_bytes(whole[: len(whole) * 40 // 100])
    except DocumentRejected as rejection:
        assert rejection.code == "malformed"
    else:
        assert "repaired" in verdict.warning_codes


def test_deeply_nested_array_is_malformed(one_page_pdf):
    bomb = b"/Bomb " + b"[" * 100_000 + b"]" * 100_000

    assert rejection_code(one_page_pdf(bomb)) == "malformed"


def test_self_referencing_kids_are_malformed(pdf_from_objects):
    assert rejection_code(pdf_from_objects(*SELF_REFERENCING_KIDS)) == "malformed"


def test_more_pages_than_allowed_is_too_many_pages(blank_pdf):
    limits = CheckLimits(max_pages=1)

    assert rejection_code(blank_pdf(2), limits) == "too_many_pages"


def test_user_password_is_encrypted(blank_pdf):
    locked = encrypted(blank_pdf(1), pikepdf.Encryption(user="secret", owner="secret"))

    assert rejection_code(locked) == "encrypted"


def test_empty_user_password_is_accepted_with_a_warning(blank_pdf):
    restricted = encrypted(blank_pdf(1), pikepdf.Encryption(user="", owner="secret"))

    assert check_bytes(restricted).warning_codes == ("empty_password",)


def test_worker_past_its_wall_limit_is_killed_and_reaped(
    blank_pdf, monkeypatch, caplog
):
    started = []

    class RecordedPopen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", RecordedPopen)
    caplog.set_level(logging.WARNING, logger="ingest.worker")

    code = rejection_code(blank_pdf(1), CheckLimits(wall_seconds=0.01))

    assert code == "malformed"
    assert [child.returncode for child in started] == [-signal.SIGKILL]
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0].pid, os.WNOHANG)
    assert "pdf_check_timeout" in caplog.text


def test_worker_out_of_memory_is_malformed(blank_pdf):
    limits = CheckLimits(memory_mb=1, wall_seconds=20.0)

    assert rejection_code(blank_pdf(200), limits) == "malformed"


def test_file_is_left_at_its_start(blank_pdf):
    data = blank_pdf(1)

    with tempfile.TemporaryFile() as file:
        file.write(data)
        check_pdf(file, LIMITS)
        assert file.read() == data


@pytest.mark.parametrize(
    ("returncode", "stdout"),
    [
        (-signal.SIGXCPU, b""),
        (-signal.SIGKILL, b""),
        (1, b"Traceback (most recent call last):\n"),
        (0, b""),
        (0, b"not json\n"),
        (0, b'{"ok": {"pages": 1, "warnings": [], "text": ""}}\n{"ok": 1}\n'),
        (0, b'{"ok": {"pages": 0, "warnings": [], "text": ""}}\n'),
        (0, b'{"ok": {"pages": 1, "warnings": [{"code": 1}], "text": ""}}\n'),
        (0, b'{"rejected": {"code": "teapot", "message": "no"}}\n'),
        (0, b'{"ok": {"pages": 1, "warnings": [], "text": ""}, "rejected": {}}\n'),
    ],
    ids=[
        "cpu-limit",
        "killed",
        "crashed",
        "silent",
        "garbage",
        "two-lines",
        "no-pages",
        "bad-warning",
        "unknown-code",
        "two-outcomes",
    ],
)
def test_anything_but_one_outcome_line_is_malformed(
    returncode, stdout, monkeypatch, caplog, blank_pdf
):
    def finished(command, **options):
        return subprocess.CompletedProcess(command, returncode, stdout, b"noise")

    monkeypatch.setattr(worker.subprocess, "run", finished)
    caplog.set_level(logging.WARNING, logger="ingest.worker")

    assert rejection_code(blank_pdf(1)) == "malformed"
    assert "pdf_check_" in caplog.text
    assert "noise" not in caplog.text and "Traceback" not in caplog.text


def test_rejection_printed_by_the_worker_is_raised(monkeypatch, blank_pdf):
    line = b'{"rejected": {"code": "encrypted", "message": "Password."}}\n'

    def finished(command, **options):
        return subprocess.CompletedProcess(command, 0, line, b"")

    monkeypatch.setattr(worker.subprocess, "run", finished)

    with pytest.raises(DocumentRejected) as caught:
        check_bytes(blank_pdf(1))
    assert (caught.value.code, caught.value.message) == ("encrypted", "Password.")


def test_worker_sees_none_of_the_vault_secrets(monkeypatch):
    monkeypatch.setenv("VAULT_SECRET_KEY", "do-not-leak")

    assert "do-not-leak" not in worker._child_environment().values()
