"""Exam results as the exam provider reports them."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import rules
from vault.access import LASID
from vault.audit import record_event, student_subject
from vault.errors import InvalidRequest
from vault.models import ExamResult, Person, Student
from vault.students import iso_date

MAX_BATCH = 10_000
MIN_SCORE = 0
MAX_SCORE = 1000


class ResultRejected(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def record_exam_results(session: Session, actor: Person, results: list,
                        today: date) -> tuple[int, list[dict]]:
    """Take each valid result; returns (accepted count, rejected with reasons).

    A result already on file (same LASID, exam, day, score and outcome) counts as
    accepted without being stored twice, so the provider may resend a batch.
    """
    if not isinstance(results, list):
        raise InvalidRequest("The body must be a JSON array of results.",
                             code="invalid_body", status=422)
    if len(results) > MAX_BATCH:
        raise InvalidRequest(f"At most {MAX_BATCH} results per request.",
                             code="batch_too_large", status=422)

    accepted, rejected = 0, []
    for index, item in enumerate(results):
        try:
            result = _validated(session, item, today)
        except ResultRejected as reason:
            rejected.append({"index": index, "code": reason.code,
                             "message": reason.message})
            continue
        if not _already_on_file(session, result):
            result.reported_by = actor.id
            session.add(result)
            session.flush()
            student = session.scalar(
                select(Student).where(Student.lasid == result.lasid))
            record_event(session, actor, "exam_result_recorded",
                         district_id=student.district_id,
                         subject=student_subject(student), exam=result.exam)
        accepted += 1
    return accepted, rejected


def _validated(session: Session, item, today: date) -> ExamResult:
    if not isinstance(item, dict):
        raise ResultRejected("invalid_result", "Each result must be a JSON object.")
    lasid = item.get("lasid")
    if not isinstance(lasid, str) or not LASID.fullmatch(lasid):
        raise ResultRejected("invalid_lasid", "`lasid` must be ten digits as a string.")
    exam = item.get("exam")
    if not isinstance(exam, str) or exam not in rules.EXAMS:
        raise ResultRejected("invalid_exam", f"`exam` must be one of "
                             f"{', '.join(rules.EXAMS)}.")
    try:
        taken_on = iso_date(item.get("taken_on"))
    except ValueError:
        raise ResultRejected("invalid_date", "`taken_on` must be YYYY-MM-DD.") from None
    if taken_on > today:
        raise ResultRejected("date_in_future", "`taken_on` cannot be in the future.")
    if taken_on < rules.EARLIEST_DATE:
        raise ResultRejected("invalid_date", f"`taken_on` cannot be before "
                             f"{rules.EARLIEST_DATE.isoformat()}.")
    score = item.get("score")
    # NaN and the infinities fall outside the range too; a comparison, unlike
    # math.isfinite, takes a 400-digit integer without overflowing.
    if score is not None and (isinstance(score, bool)
                              or not isinstance(score, (int, float))
                              or not MIN_SCORE <= score <= MAX_SCORE):
        raise ResultRejected("invalid_score", f"`score` must be a number from "
                             f"{MIN_SCORE} to {MAX_SCORE}, or left out.")
    passed = item.get("passed")
    if not isinstance(passed, bool):
        raise ResultRejected("invalid_passed", "`passed` must be true or false.")
    if session.scalar(select(Student.id).where(Student.lasid == lasid)) is None:
        raise ResultRejected("unknown_student", "No enrolled student has this LASID.")
    return ExamResult(lasid=lasid, exam=exam, taken_on=taken_on,
                      score=float(score) if score is not None else None, passed=passed)


def _already_on_file(session: Session, result: ExamResult) -> bool:
    return session.scalar(select(ExamResult.id).where(
        ExamResult.lasid == result.lasid, ExamResult.exam == result.exam,
        ExamResult.taken_on == result.taken_on, ExamResult.passed == result.passed,
        ExamResult.score.is_(None) if result.score is None
        else ExamResult.score == result.score,
    )) is not None
