"""The credential's rules, as data plus small functions. Versioned.

Source: the Micro-Enterprise Credential policy (shared/policy). Every sealed
package records RULES_VERSION, the rules it was judged under; change the version
whenever a rule changes.

The completeness check takes plain facts about one student's record (not
database rows) and the day to judge on, and returns, per credential level, a
status and each missing item with a stable code and a sentence a school
secretary can act on.
"""

from dataclasses import dataclass, field
from datetime import date

RULES_VERSION = "2026.1"

MODULES = {
    "self_assessment": "Self-Assessment",
    "presentation": "Self-Assessment Presentation",
    "credit_applications": "Credit Applications",
    "company_registration": "Company Registration",
    "certification_exam": "Certification Exam",
}

# The exam module is completed only by a result from the exam provider.
SCHOOL_MODULES = tuple(module for module in MODULES if module != "certification_exam")

KINDS = {
    "sa_round1": "Round 1 Self-Assessment report",
    "sa_round2": "Round 2 Self-Assessment report",
    "mentor_checklist": "mentor's Student Completion Checklist",
}

EVIDENCE = {
    "self_assessment": ("sa_round1", "sa_round2"),
    "presentation": ("mentor_checklist",),
    "credit_applications": (),
    "company_registration": (),
}

# Policy 1: these count only when done in grade 11 or 12.
GRADE_BOUND_MODULES = ("self_assessment", "presentation")
MINIMUM_GRADE = 11
# No module date or exam result is older than this: a typing slip, not a record.
EARLIEST_DATE = date(2000, 1, 1)

LEVELS = {
    "regional_core": "Regional Core",
    "statewide_basic": "Basic Statewide",
    "statewide_advanced": "Advanced Statewide",
}

# Policy 3: Regional Core before the statewide credentials.
PREREQUISITES = {
    "statewide_basic": "regional_core",
    "statewide_advanced": "regional_core",
}

EXAMS = tuple(LEVELS)


@dataclass(frozen=True)
class ExamOutcome:
    exam: str
    taken_on: date
    passed: bool


@dataclass(frozen=True)
class RecordFacts:
    """What the rules look at in one student's record."""

    cohort: int
    agreement_signed_on: date | None
    module_dates: dict[str, date] = field(default_factory=dict)
    document_kinds: frozenset[str] = frozenset()
    exams: tuple[ExamOutcome, ...] = ()
    issued_levels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MissingItem:
    code: str
    message: str
    module: str | None = None

    def as_dict(self) -> dict:
        item = {"code": self.code, "message": self.message}
        if self.module:
            item["module"] = self.module
        return item


def school_year_end(day: date) -> int:
    """The calendar year in which the school year containing `day` ends (June 30)."""
    return day.year + 1 if day.month >= 7 else day.year


def grade_on(cohort: int, day: date) -> int:
    """The grade of a student of `cohort` (graduation year) on `day`."""
    return 12 - (cohort - school_year_end(day))


def missing_items(level: str, facts: RecordFacts, today: date) -> list[MissingItem]:
    """Everything that stands between the record and `level` on `today`."""
    missing = _agreement_missing(facts, today)
    prerequisite = PREREQUISITES.get(level)
    if prerequisite is None:
        missing += _modules_missing(facts)
    elif prerequisite not in facts.issued_levels:
        missing.append(MissingItem(
            "prerequisite_missing",
            f"The {LEVELS[prerequisite]} certificate must be issued before the "
            f"{LEVELS[level]} credential.",
        ))
    missing += _exam_missing(level, facts)
    return missing


def completeness(facts: RecordFacts, today: date) -> dict[str, dict]:
    """Per level: `status` (complete, incomplete, issued) and the `missing` list."""
    report = {}
    for level in LEVELS:
        missing = missing_items(level, facts, today)
        if level in facts.issued_levels:
            status = "issued"
        elif missing:
            status = "incomplete"
        else:
            status = "complete"
        report[level] = {"status": status,
                         "missing": [item.as_dict() for item in missing]}
    return report


def _agreement_missing(facts: RecordFacts, today: date) -> list[MissingItem]:
    signed = facts.agreement_signed_on
    if signed is not None and signed <= today:
        return []
    return [MissingItem(
        "agreement_missing",
        "The district has no signed tracking agreement on record; the operator "
        "must record it first.",
    )]


def _modules_missing(facts: RecordFacts) -> list[MissingItem]:
    missing = []
    for module in SCHOOL_MODULES:
        title = MODULES[module]
        done_on = facts.module_dates.get(module)
        if done_on is None:
            missing.append(MissingItem(
                "module_missing", f"No completion date for {title}.", module))
        elif module in GRADE_BOUND_MODULES:
            grade = grade_on(facts.cohort, done_on)
            if grade < MINIMUM_GRADE:
                missing.append(MissingItem(
                    "grade_too_low",
                    f"{title} was completed on {done_on.isoformat()}, in grade "
                    f"{grade}; it counts only when done in grade 11 or 12.",
                    module,
                ))
        for kind in EVIDENCE[module]:
            if kind not in facts.document_kinds:
                missing.append(MissingItem(
                    "document_missing",
                    f"The {KINDS[kind]} (PDF) has not been uploaded.", module))
    return missing


def _exam_missing(level: str, facts: RecordFacts) -> list[MissingItem]:
    results = [outcome for outcome in facts.exams if outcome.exam == level]
    if any(outcome.passed for outcome in results):
        return []
    if results:
        return [MissingItem(
            "exam_failed",
            f"The {LEVELS[level]} certification exam has not been passed yet "
            f"(latest attempt {max(r.taken_on for r in results).isoformat()}).",
            "certification_exam",
        )]
    return [MissingItem(
        "exam_missing",
        f"The exam provider has not reported any {LEVELS[level]} certification "
        "exam result.",
        "certification_exam",
    )]
