"""`vault demo`: a demo district with people, students and PDFs it makes itself.

Run twice, it keeps the data and gives the demo people new passwords.
"""

import io
import os
from datetime import date, timedelta
from pathlib import Path

from fpdf import FPDF
from sqlalchemy import select

from vault import accounts, rules
from vault.db import unit_of_work
from vault.documents import store_document
from vault.exams import record_exam_results
from vault.models import District, Person
from vault.runtime import Runtime
from vault.students import enrol_student, record_module

DISTRICT_CODE = "DEMO"
DISTRICT_NAME = "Demo Parish Schools"
SCHOOL = "Riverbend High"
PEOPLE = (
    ("operator@demo.vault", "operator", ()),
    ("admin@demo.vault", "district_admin", (DISTRICT_CODE,)),
    ("uploader@demo.vault", "uploader", (DISTRICT_CODE,)),
    ("auditor@demo.vault", "auditor", (DISTRICT_CODE,)),
    ("exams@demo.vault", "exam_provider", ()),
)


def load_demo(runtime: Runtime, pdf_dir: Path = Path("demo-pdfs")) -> list[str]:
    """Load the demo (or refresh its passwords); returns what to print."""
    today = runtime.today()
    passwords = {email: accounts.generate_password() for email, _, _ in PEOPLE}
    with unit_of_work(runtime.sessions) as session:
        district = session.scalar(select(District).where(
            District.code == DISTRICT_CODE))
        fresh = district is None
        if fresh:
            accounts.add_district(session, DISTRICT_CODE, DISTRICT_NAME,
                                  today - timedelta(days=120))
        _people(session, passwords)

    if fresh:
        _students(runtime, today)
    pdf_dir.mkdir(exist_ok=True)
    for kind, title in rules.KINDS.items():
        (pdf_dir / f"jordan-rivera-{kind}.pdf").write_bytes(
            evidence_pdf(title, "Jordan Rivera"))
    return _instructions(passwords, pdf_dir, fresh)


def _people(session, passwords: dict[str, str]) -> None:
    for email, role, districts in PEOPLE:
        person = session.scalar(select(Person).where(Person.email == email))
        if person is None:
            accounts.add_person(session, email, role, list(districts),
                                passwords[email])
        else:
            person.password_hash = accounts.hash_password(passwords[email])


def _students(runtime: Runtime, today: date) -> None:
    """Four students in four states of the job."""
    senior = rules.school_year_end(today)
    recent = today - timedelta(days=20)
    with unit_of_work(runtime.sessions) as session:
        uploader = accounts.person_by_email(session, "uploader@demo.vault")
        provider = accounts.person_by_email(session, "exams@demo.vault")
        district = accounts.district_by_code(session, DISTRICT_CODE)
        roster = (
            ("0400000101", "Avery", "Johnson", senior, True, True),
            ("0400000102", "Jordan", "Rivera", senior, False, True),
            ("0400000103", "Casey", "Nguyen", senior + 2, True, True),
            ("0400000104", "Morgan", "Lee", senior + 1, True, False),
        )
        results = []
        for lasid, first, last, cohort, with_pdfs, passed in roster:
            student, _ = enrol_student(session, uploader, lasid, district, {
                "first_name": first, "last_name": last, "school": SCHOOL,
                "cohort": cohort})
            for module in rules.SCHOOL_MODULES:
                record_module(session, uploader, student, module, recent, today)
            if with_pdfs:
                for kind, title in rules.KINDS.items():
                    store_document(runtime, session, uploader, student, kind,
                                   io.BytesIO(evidence_pdf(title, student.full_name)),
                                   f"{kind}.pdf")
            results.append({"lasid": lasid, "exam": "regional_core",
                            "taken_on": recent.isoformat(),
                            "score": 84 if passed else 41, "passed": passed})
        record_exam_results(session, provider, results, today)


def evidence_pdf(title: str, student_name: str) -> bytes:
    """A small, real-looking evidence PDF naming the student."""
    pdf = FPDF(format="letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=18)
    pdf.cell(0, 12, "Micro-Enterprise Credential", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=14)
    pdf.cell(0, 10, title[0].upper() + title[1:], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 8, f"Student name: {student_name}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, f"School: {SCHOOL}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 6, "This demo document stands in for the real report. It was "
                   "made by `vault demo` and holds no real student's data.")
    return bytes(pdf.output())


def _instructions(passwords: dict[str, str], pdf_dir: Path, fresh: bool) -> list[str]:
    port = os.environ.get("PORT")
    address = f"http://127.0.0.1:{port or 8000}/login"
    if not port:
        address += " (or the PORT you gave `make run`)"
    lines = ["Demo district DEMO (Demo Parish Schools) "
             + ("loaded." if fresh else "already loaded; new passwords below."), "",
             f"Sign in at {address} as:"]
    for email, role, _ in PEOPLE:
        lines.append(f"  {role:<15} {email:<24} password: {passwords[email]}")
    lines += [
        "",
        "Then, as the uploader:",
        "  1. open Students: Avery Johnson is complete, Jordan Rivera lacks PDFs,",
        "     Casey Nguyen did the Self-Assessment in grade 10, Morgan Lee failed",
        "     the exam.",
        f"  2. open Jordan Rivera and upload the three PDFs in {pdf_dir.resolve()}",
        "     (one per kind); the student becomes complete.",
        "As the operator: open a complete student and issue the certificate;",
        "the uploader can then download it from the student's page.",
        "Anyone can check a certificate number at /verify.",
    ]
    return lines
