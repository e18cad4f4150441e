"""The credential's rules: each missing-item code, the grade boundary, levels."""

from datetime import date

import pytest

from vault import rules
from vault.rules import ExamOutcome, RecordFacts

TODAY = date(2026, 12, 3)
DONE = date(2026, 10, 1)


def complete_facts(**changes) -> RecordFacts:
    values = dict(
        cohort=2027,
        agreement_signed_on=date(2026, 8, 14),
        module_dates={module: DONE for module in rules.SCHOOL_MODULES},
        document_kinds=frozenset(rules.KINDS),
        exams=(ExamOutcome("regional_core", date(2026, 11, 18), True),),
    )
    values.update(changes)
    return RecordFacts(**values)


def codes(level: str, facts: RecordFacts, today: date = TODAY) -> list[str]:
    return [item.code for item in rules.missing_items(level, facts, today)]


def test_complete_record_is_complete():
    report = rules.completeness(complete_facts(), TODAY)
    assert report["regional_core"] == {"status": "complete", "missing": []}


def test_agreement_missing():
    assert codes("regional_core", complete_facts(agreement_signed_on=None)) == [
        "agreement_missing"]


def test_agreement_signed_in_the_future_is_not_on_record():
    facts = complete_facts(agreement_signed_on=date(2027, 1, 1))
    assert "agreement_missing" in codes("regional_core", facts)


def test_module_missing_names_the_module():
    facts = complete_facts(module_dates={"self_assessment": DONE,
                                         "presentation": DONE})
    missing = rules.missing_items("regional_core", facts, TODAY)
    assert {(m.code, m.module) for m in missing} == {
        ("module_missing", "credit_applications"),
        ("module_missing", "company_registration"),
    }


def test_document_missing_per_kind():
    facts = complete_facts(document_kinds=frozenset({"sa_round1"}))
    missing = rules.missing_items("regional_core", facts, TODAY)
    assert [m.code for m in missing] == ["document_missing", "document_missing"]
    assert "Round 2" in missing[0].message
    assert "Checklist" in missing[1].message


def test_exam_missing_and_failed():
    assert codes("regional_core", complete_facts(exams=())) == ["exam_missing"]
    failed = (ExamOutcome("regional_core", date(2026, 11, 18), False),)
    assert codes("regional_core", complete_facts(exams=failed)) == ["exam_failed"]


def test_a_later_pass_outweighs_a_failed_attempt():
    exams = (ExamOutcome("regional_core", date(2026, 10, 1), False),
             ExamOutcome("regional_core", date(2026, 11, 18), True))
    assert codes("regional_core", complete_facts(exams=exams)) == []


def test_a_passed_exam_of_another_level_does_not_count():
    exams = (ExamOutcome("statewide_basic", date(2026, 11, 18), True),)
    assert codes("regional_core", complete_facts(exams=exams)) == ["exam_missing"]


@pytest.mark.parametrize(("done_on", "grade", "counts"), [
    (date(2025, 6, 30), 10, False),   # last day of grade 10 for cohort 2027
    (date(2025, 7, 1), 11, True),     # first day of grade 11
    (date(2027, 6, 30), 12, True),
])
def test_grade_boundary_is_july_first(done_on, grade, counts):
    assert rules.grade_on(2027, done_on) == grade
    dates = {module: done_on for module in rules.SCHOOL_MODULES}
    found = codes("regional_core", complete_facts(module_dates=dates),
                  today=date(2027, 6, 30))
    assert ("grade_too_low" not in found) is counts
    if not counts:
        assert found == ["grade_too_low", "grade_too_low"]


def test_grade_rule_binds_only_the_self_assessment_and_presentation():
    dates = {module: DONE for module in rules.SCHOOL_MODULES}
    dates["credit_applications"] = date(2024, 9, 1)   # grade 9
    assert codes("regional_core", complete_facts(module_dates=dates)) == []


def test_statewide_needs_regional_core_issued_first():
    facts = complete_facts(exams=(
        ExamOutcome("statewide_basic", date(2026, 11, 18), True),))
    assert codes("statewide_basic", facts) == ["prerequisite_missing"]
    issued = complete_facts(issued_levels=frozenset({"regional_core"}), exams=(
        ExamOutcome("statewide_basic", date(2026, 11, 18), True),))
    assert codes("statewide_basic", issued) == []
    assert codes("statewide_advanced", issued) == ["exam_missing"]


def test_issued_level_reads_issued():
    facts = complete_facts(issued_levels=frozenset({"regional_core"}))
    assert rules.completeness(facts, TODAY)["regional_core"]["status"] == "issued"


def test_every_missing_item_has_a_sentence():
    empty = RecordFacts(cohort=2029, agreement_signed_on=None)
    for level in rules.LEVELS:
        for item in rules.missing_items(level, empty, TODAY):
            assert item.message.endswith(".") and len(item.message) > 20
