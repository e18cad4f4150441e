"""The main job through the HTTP API: enrol, evidence, exam, certificate."""

import hashlib
import os

import pytest

from tests.conftest import corpus_or_skip, small_pdf

LASID = "0400012345"
KINDS = ("sa_round1", "sa_round2", "mentor_checklist")


@pytest.fixture
def people(world):
    world.district("D1")
    world.district("D2")
    world.district("D3", agreement=None)
    return {
        "op": world.person("operator"),
        "up1": world.person("uploader", "D1"),
        "up2": world.person("uploader", "D2"),
        "up3": world.person("uploader", "D3"),
        "exam": world.person("exam_provider"),
    }


def corpus_pdfs(count: int = 3) -> list[bytes]:
    folder = corpus_or_skip()
    names = ["pypdf__crazyones.pdf", "samplefiles__pdflatex-4-pages.pdf",
             "samplefiles__google-doc-document.pdf"]
    return [(folder / name).read_bytes() for name in names[:count]]


def missing_codes(body: dict, level: str = "regional_core") -> set[str]:
    return {item["code"] for item in body[level]["missing"]}


def run_job(world, people, pdfs):
    assert world.enrol(people["up1"], LASID).status_code == 201
    empty = world.call("GET", f"/api/v1/students/{LASID}/completeness", people["up1"])
    assert empty.json["regional_core"]["status"] == "incomplete"
    assert {"module_missing", "document_missing", "exam_missing"} <= missing_codes(
        empty.json)

    world.modules(people["up1"], LASID)
    uploaded = []
    for kind, data in zip(KINDS, pdfs):
        answer = world.upload(people["up1"], LASID, kind, data)
        assert answer.status_code == 201, answer.json
        assert answer.json["sha256"] == hashlib.sha256(data).hexdigest()
        assert answer.json["size"] == len(data) and answer.json["pages"] >= 1
        uploaded.append((answer.json["id"], data))

    refused = world.call("POST", f"/api/v1/students/{LASID}/certificates",
                         people["op"], json={"level": "regional_core"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "incomplete"
    assert [m["code"] for m in refused.json["error"]["missing"]] == ["exam_missing"]

    assert world.exam(people["exam"], LASID).json == {"accepted": 1, "rejected": []}
    complete = world.call("GET", f"/api/v1/students/{LASID}/completeness",
                          people["up1"])
    assert complete.json["regional_core"] == {"status": "complete", "missing": []}

    issued = world.call("POST", f"/api/v1/students/{LASID}/certificates",
                        people["op"], json={"level": "regional_core"})
    assert issued.status_code == 201
    assert issued.json["issued_on"] == "2026-12-03" and issued.json["package_id"]
    certificate = world.call(
        "GET", f"/api/v1/certificates/{issued.json['number']}/content", people["up1"])
    assert certificate.status_code == 200 and certificate.data[:5] == b"%PDF-"

    for document_id, data in uploaded:
        content = world.call("GET", f"/api/v1/documents/{document_id}/content",
                             people["up1"])
        assert content.status_code == 200 and content.data == data
        assert content.headers["Content-Type"] == "application/pdf"
    return issued.json


def test_main_job_on_generated_pdfs(world, people):
    pdfs = [small_pdf(f"Student name: Jordan Rivera, part {n}") for n in range(3)]
    issued = run_job(world, people, pdfs)
    again = world.call("POST", f"/api/v1/students/{LASID}/certificates", people["op"],
                       json={"level": "regional_core"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_issued"
    record = world.call("GET", f"/api/v1/students/{LASID}", people["up1"]).json
    assert record["completeness"]["regional_core"]["status"] == "issued"
    assert record["certificates"][0]["number"] == issued["number"]
    assert record["modules"]["certification_exam"] == "2026-11-18"


def test_main_job_on_real_corpus_pdfs(world, people, runtime, rest_folders):
    pdfs = corpus_pdfs()
    run_job(world, people, pdfs)

    # Neither the data folder nor, on S3, the server's disk holds their bytes.
    runtime.engine.dispose()
    windows = [pdf[len(pdf) // 2:len(pdf) // 2 + 64] for pdf in pdfs]
    for root in rest_folders:
        for path in (path for path in root.rglob("*") if path.is_file()):
            content = path.read_bytes()
            assert b"%PDF-" not in content, path
            assert not any(window in content for window in windows), path


def test_grade_10_work_is_refused_with_grade_too_low(world, people):
    lasid = "0400099999"
    assert world.enrol(people["up1"], lasid, cohort=2029).status_code == 201
    world.modules(people["up1"], lasid)
    for kind in KINDS:
        assert world.upload(people["up1"], lasid, kind, small_pdf()).status_code == 201
    world.exam(people["exam"], lasid)
    body = world.call("GET", f"/api/v1/students/{lasid}/completeness",
                      people["up1"]).json
    assert missing_codes(body) == {"grade_too_low"}
    assert "prerequisite_missing" in missing_codes(body, "statewide_basic")
    refused = world.call("POST", f"/api/v1/students/{lasid}/certificates",
                         people["op"], json={"level": "regional_core"})
    assert refused.status_code == 409
    assert {m["code"] for m in refused.json["error"]["missing"]} == {"grade_too_low"}


def test_district_without_agreement_cannot_upload(world, people):
    assert world.enrol(people["up3"], "0400055555").status_code == 201
    answer = world.upload(people["up3"], "0400055555", "sa_round1", small_pdf())
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "agreement_missing"


def test_bad_uploads_get_stable_codes_and_store_nothing(world, people, runtime):
    world.enrol(people["up1"], LASID)
    cases = [
        (b"<html>not a pdf</html>", "sa_round1", 422, "not_pdf"),
        (b"", "sa_round1", 422, "not_pdf"),
        (small_pdf(), "birth_certificate", 422, "invalid_kind"),
    ]
    for data, kind, status, code in cases:
        answer = world.upload(people["up1"], LASID, kind, data)
        assert (answer.status_code, answer.json["error"]["code"]) == (status, code)
    assert list(runtime.store.keys()) == []


def test_upload_over_the_limit_is_a_json_413(world, people, runtime):
    world.enrol(people["up1"], LASID)
    limit = runtime.settings.max_upload_bytes
    answer = world.upload(people["up1"], LASID, "sa_round1",
                          small_pdf() + os.urandom(limit))
    assert answer.status_code == 413
    assert answer.json["error"]["code"] == "too_large"
    assert list(runtime.store.keys()) == []


def test_school_may_not_record_the_exam(world, people):
    world.enrol(people["up1"], LASID)
    answer = world.call("PUT", f"/api/v1/students/{LASID}/modules/certification_exam",
                        people["up1"], json={"completed_on": "2026-11-18"})
    assert answer.status_code == 403
    posted = world.exam(people["up1"], LASID)
    assert posted.status_code == 403


def test_lasid_keeps_its_leading_zeros_and_must_be_ten_digits(world, people):
    assert world.enrol(people["up1"], "0000000042").status_code == 201
    body = world.call("GET", "/api/v1/students/0000000042", people["up1"]).json
    assert body["lasid"] == "0000000042"
    short = world.enrol(people["up1"], "42")
    assert short.status_code == 422 and short.json["error"]["code"] == "invalid_lasid"


def test_another_district_cannot_take_over_a_lasid(world, people):
    world.enrol(people["up1"], LASID)
    answer = world.enrol(people["up2"], LASID, first_name="Someone")
    assert answer.status_code == 404
    body = world.call("GET", f"/api/v1/students/{LASID}", people["up1"]).json
    assert body["first_name"] == "Jordan"


def test_exam_results_are_checked_one_by_one(world, people):
    world.enrol(people["up1"], LASID)
    answer = world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": LASID, "exam": "regional_core", "taken_on": "2026-11-18",
         "score": 84, "passed": True},
        {"lasid": "0400000000", "exam": "regional_core", "taken_on": "2026-11-18",
         "score": 84, "passed": True},
        {"lasid": LASID, "exam": "chess", "taken_on": "2026-11-18", "passed": True},
        {"lasid": LASID, "exam": "regional_core", "taken_on": "2099-01-01",
         "passed": True},
        "nonsense",
    ])
    assert answer.status_code == 200
    assert answer.json["accepted"] == 1
    assert [(r["index"], r["code"]) for r in answer.json["rejected"]] == [
        (1, "unknown_student"), (2, "invalid_exam"), (3, "date_in_future"),
        (4, "invalid_result")]
    resent = world.exam(people["exam"], LASID)
    assert resent.json["accepted"] == 1


def test_the_exam_module_is_done_with_the_first_passed_regional_core(world, people):
    world.enrol(people["up1"], LASID)
    world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": LASID, "exam": "statewide_basic", "taken_on": "2026-01-05",
         "passed": True},
        {"lasid": LASID, "exam": "regional_core", "taken_on": "2026-02-01",
         "passed": False},
        {"lasid": LASID, "exam": "regional_core", "taken_on": "2026-03-02",
         "passed": True}])

    modules = world.call("GET", f"/api/v1/students/{LASID}", people["up1"]).json[
        "modules"]

    assert modules["certification_exam"] == "2026-03-02"


def test_module_dates_are_validated(world, people):
    world.enrol(people["up1"], LASID)
    path = f"/api/v1/students/{LASID}/modules"
    cases = [("credit_applications", {"completed_on": "yesterday"}, "invalid_date"),
             ("credit_applications", {"completed_on": "2099-01-01"}, "date_in_future"),
             ("knitting", {"completed_on": "2026-10-01"}, "invalid_module")]
    for module, body, code in cases:
        answer = world.call("PUT", f"{path}/{module}", people["up1"], json=body)
        assert answer.status_code == 422 and answer.json["error"]["code"] == code
    not_json = world.call("PUT", f"{path}/presentation", people["up1"], data="x")
    assert not_json.status_code == 400
