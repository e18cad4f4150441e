"""The district dashboard: students by school, their status, filters and a chart.

The chart is an SVG drawn here on the server, so it needs no script; the same
figures are in a table beside it for screen readers and for printing.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from vault import access, rules
from vault.models import Person, Student
from vault.students import record_facts

STATUSES = ("issued", "complete", "incomplete")
MAX_QUERY = 60
BAR_WIDTH = 420
BAR_HEIGHT = 22
LABEL_WIDTH = 220


@dataclass(frozen=True)
class Filters:
    """What the person asked to see, read from the query string."""

    query: str = ""
    school: str = ""
    level: str = "regional_core"
    status: str = ""
    district: str = ""

    @classmethod
    def from_args(cls, args) -> "Filters":
        level = args.get("level", "regional_core")
        status = args.get("status", "")
        return cls(
            query=args.get("q", "").strip()[:MAX_QUERY],
            school=args.get("school", "").strip()[:200],
            level=level if level in rules.LEVELS else "regional_core",
            status=status if status in STATUSES else "",
            district=args.get("district", "").strip().upper()[:16],
        )


@dataclass
class SchoolSummary:
    """How many students of one school are at each status of the chosen level."""

    school: str
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts["complete"] + self.counts["issued"]


@dataclass
class Dashboard:
    rows: list[tuple[Student, dict]]
    schools: list[SchoolSummary]
    school_names: list[str]
    district_codes: list[str]
    total: int


def build_dashboard(session: Session, person: Person, filters: Filters,
                    today: date) -> Dashboard:
    """Every visible student's status; rows filtered, the summary over all."""
    query = access.students_visible_to(person).order_by(
        Student.school, Student.last_name, Student.first_name, Student.lasid)
    if filters.district and person.role == "operator":
        query = query.where(Student.district.has(code=filters.district))
    roster = list(session.scalars(query))

    rows, summaries = [], {}
    for student in roster:
        report = rules.completeness(record_facts(session, student), today)
        summary = summaries.setdefault(student.school, SchoolSummary(student.school))
        summary.counts[report[filters.level]["status"]] += 1
        if _matches(student, report, filters):
            rows.append((student, report))

    return Dashboard(
        rows=rows,
        schools=[summaries[name] for name in sorted(summaries)],
        school_names=sorted(summaries),
        district_codes=sorted({student.district.code for student in roster}),
        total=len(roster),
    )


def _matches(student: Student, report: dict, filters: Filters) -> bool:
    if filters.school and student.school != filters.school:
        return False
    if filters.status and report[filters.level]["status"] != filters.status:
        return False
    if filters.query:
        needle = filters.query.casefold()
        haystack = (student.lasid, student.first_name.casefold(),
                    student.last_name.casefold(), student.full_name.casefold())
        if not any(needle in text for text in haystack):
            return False
    return True


@dataclass(frozen=True)
class Bar:
    status: str
    x: float
    width: float
    count: int


def chart_bars(summary: SchoolSummary) -> list[Bar]:
    """The stacked segments of one school's bar: issued, complete, incomplete."""
    bars, x = [], float(LABEL_WIDTH)
    total = summary.total or 1
    for status in STATUSES:
        count = summary.counts[status]
        width = BAR_WIDTH * count / total
        bars.append(Bar(status, round(x, 1), round(width, 1), count))
        x += width
    return bars
