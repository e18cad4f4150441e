"""Run the PDF check in a child process bounded in CPU, memory and wall-clock time.

The web process calls `check_pdf` with the uploaded temporary file. The child,
`python -m ingest.worker FD LIMITS`, reads the file through the inherited
descriptor, runs `inspect_pdf` and prints one JSON line: `{"ok": verdict}` or
`{"rejected": {"code": ..., "message": ...}}`. Whatever else happens to the
child (killed, out of time or memory, garbage output) rejects the file as
`malformed`; the child never outlives the call.
"""

import json
import logging
import os
import resource
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

from ingest.errors import REJECTION_CODES, DocumentRejected
from ingest.pdfcheck import MALFORMED_MESSAGE, PdfVerdict, inspect_pdf
from vault.config import CheckLimits

log = logging.getLogger(__name__)

# The folder that holds the `ingest` package, for the child's import path.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
LIMITS_MESSAGE = (
    "The PDF could not be checked within the vault's limits. "
    "Upload a simpler copy, for example the document printed to PDF again."
)
PARSER_LOGGERS = ("pypdf", "pikepdf")


def check_pdf(file: BinaryIO, limits: CheckLimits) -> PdfVerdict:
    """Check an uploaded PDF in a bounded child process and return its verdict.

    `file` must be a real file (it has a descriptor); it is left at its start.
    Raises DocumentRejected when the file is refused or cannot be checked.
    """
    file.flush()
    fd = file.fileno()

    try:
        finished = subprocess.run(
            [sys.executable, "-m", "ingest.worker", str(fd), _limits_argument(limits)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=limits.wall_seconds,
            cwd=PACKAGE_ROOT,
            env=_child_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("pdf_check_timeout wall_seconds=%s", limits.wall_seconds)
        raise DocumentRejected("malformed", LIMITS_MESSAGE) from None
    finally:
        file.seek(0)

    return _verdict_from(finished)


def _limits_argument(limits: CheckLimits) -> str:
    """The limits as the child's second argument."""
    return json.dumps(asdict(limits))


def _child_environment() -> dict[str, str]:
    """A bare environment: the child needs no setting and must see no secret."""
    environment = {"PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}
    if os.environ.get("PYTHONPATH"):
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return environment


def _verdict_from(finished: subprocess.CompletedProcess) -> PdfVerdict:
    """The verdict the child printed, or the rejection it stands for."""
    if finished.returncode != 0:
        log.warning(
            "pdf_check_failed returncode=%s stderr_bytes=%d",
            finished.returncode,
            len(finished.stderr),
        )
        raise DocumentRejected("malformed", LIMITS_MESSAGE)

    try:
        outcome = _parse_outcome(finished.stdout)
    except ValueError:
        log.warning("pdf_check_garbled stdout_bytes=%d", len(finished.stdout))
        raise DocumentRejected("malformed", LIMITS_MESSAGE) from None

    if isinstance(outcome, DocumentRejected):
        raise outcome
    return outcome


def _parse_outcome(stdout: bytes) -> PdfVerdict | DocumentRejected:
    """Decode the child's one JSON line; ValueError when it is anything else."""
    lines = stdout.splitlines()
    if len(lines) != 1:
        raise ValueError("the worker prints exactly one line")

    outcome = json.loads(lines[0])
    if not isinstance(outcome, dict) or len(outcome) != 1:
        raise ValueError("the worker prints an object with one key")

    if "ok" in outcome:
        return PdfVerdict.from_json(outcome["ok"])
    rejected = outcome.get("rejected")
    if not isinstance(rejected, dict) or rejected.get("code") not in REJECTION_CODES:
        raise ValueError("a rejection has a known code")
    if rejected.get("error"):
        log.info("pdf_check_parser_error error=%s", rejected["error"])
    return DocumentRejected(rejected["code"], str(rejected.get("message", "")))


def main(argv: list[str]) -> int:
    """Worker entry: check the PDF behind the inherited descriptor, print one line."""
    fd, limits = int(argv[0]), CheckLimits(**json.loads(argv[1]))
    _limit_resources(limits)
    _silence_parsers()

    outcome = _check_descriptor(fd, limits)

    sys.stdout.write(json.dumps(outcome) + "\n")
    sys.stdout.flush()
    return 0


def _limit_resources(limits: CheckLimits) -> None:
    """Bound this process's CPU time and address space, and forbid core dumps.

    Set here rather than in a `preexec_fn`, which is unsafe in a threaded web
    process; they take hold before the uploaded bytes are read.
    """
    memory = limits.memory_mb * 1024 * 1024
    _set_limit(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    _set_limit(resource.RLIMIT_AS, memory, memory)
    _set_limit(resource.RLIMIT_CORE, 0, 0)


def _set_limit(kind: int, soft: int, hard: int) -> None:
    """Set a resource limit, never above the hard limit already in force."""
    _, current = resource.getrlimit(kind)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(kind, (soft, hard))


def _silence_parsers() -> None:
    """Keep the parsers' warnings off stderr, which nobody reads."""
    warnings.simplefilter("ignore")
    for name in PARSER_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _check_descriptor(fd: int, limits: CheckLimits) -> dict:
    """Inspect the file behind fd; the outcome as the JSON the parent expects."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        with os.fdopen(fd, "rb") as stream:
            return {"ok": inspect_pdf(stream, limits).to_json()}
    except DocumentRejected as rejection:
        return {"rejected": {"code": rejection.code, "message": rejection.message}}
    except MemoryError:
        return _malformed(LIMITS_MESSAGE, "MemoryError")
    except Exception as error:  # noqa: BLE001
        # The boundary of the check: hostile bytes go through qpdf (C++) and
        # pypdf, which raise whatever their code paths raise on broken input
        # (PdfError, AttributeError, RecursionError, UnicodeDecodeError,
        # KeyError, ValueError...). A file that breaks a parser is a malformed
        # file, so every such failure becomes that verdict instead of a crash.
        return _malformed(MALFORMED_MESSAGE, type(error).__name__)


def _malformed(message: str, error: str) -> dict:
    """A malformed rejection, naming the exception class (never its message)."""
    return {"rejected": {"code": "malformed", "message": message, "error": error}}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
