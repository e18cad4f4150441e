"""Odd and hostile request bodies get a clear 4xx with a stable code, never a 500."""

from urllib.parse import quote

import pytest

from tests.conftest import small_pdf

LASID = "0400055501"


@pytest.fixture
def people(world):
    world.district("D1")
    people = {"up": world.person("uploader", "D1"), "op": world.person("operator"),
              "exam": world.person("exam_provider")}
    assert world.enrol(people["up"], LASID).status_code == 201
    return people


@pytest.mark.parametrize("score", [float("inf"), float("-inf"), float("nan"), -5,
                                   1e308, "84", True, 10**400])
def test_an_exam_score_must_be_a_finite_number_in_range(world, people, score):
    answer = world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": LASID, "exam": "regional_core", "taken_on": "2026-11-18",
         "score": score, "passed": True}])
    assert answer.status_code == 200
    assert answer.json["accepted"] == 0
    assert [item["code"] for item in answer.json["rejected"]] == ["invalid_score"]


def test_json_nested_beyond_reason_is_invalid_json(world, people):
    body = "[" * 100_000 + "]" * 100_000
    for method, path in (("POST", "/api/v1/exam-results"),
                         ("PUT", f"/api/v1/students/{LASID}/modules/presentation")):
        answer = world.call(method, path, people["up"] if method == "PUT"
                            else people["exam"], data=body,
                            content_type="application/json")
        assert answer.status_code == 400, path
        assert answer.json["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("lasid", ["１２３４５６７８９０", "٠١٢٣٤٥٦٧٨٩", "0400000999\n",
                                   "0400000999 ", " 0400000999"])
def test_a_lasid_is_exactly_ten_ascii_digits(world, people, lasid):
    answer = world.enrol(people["up"], quote(lasid))
    assert answer.status_code in (404, 422), answer.json
    result = world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": lasid, "exam": "regional_core", "taken_on": "2026-11-18",
         "passed": True}])
    assert result.json["rejected"][0]["code"] == "invalid_lasid"


@pytest.mark.parametrize("name", ["Va\u001fne", "A\u0000B", "Line\nbreak", "Tab\there",
                                  "Bidi\u202eeman"])
def test_names_with_control_characters_are_refused(world, people, name):
    answer = world.enrol(people["up"], "0400055502", last_name=name)
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invalid_field"
    assert name not in answer.get_data(as_text=True)


@pytest.mark.parametrize("body", [{}, {"level": ["regional_core"]},
                                  {"level": {"regional_core": 1}}])
def test_a_certificate_names_its_level(world, people, body):
    answer = world.call("POST", f"/api/v1/students/{LASID}/certificates",
                        people["op"], json=body)
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invalid_level"


@pytest.mark.parametrize("cohort", ["²⁰²⁷", "٢٠٢٧", "２０２７", "²", "27", [2027]])
def test_a_cohort_is_a_year_in_ascii_digits(world, people, cohort):
    answer = world.enrol(people["up"], "0400055503", cohort=cohort)
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "invalid_field"


def test_an_exam_named_by_a_list_is_refused_not_crashed(world, people):
    answer = world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": LASID, "exam": ["regional_core"], "taken_on": "2026-11-18",
         "passed": True}])
    assert answer.status_code == 200
    assert answer.json["rejected"][0]["code"] == "invalid_exam"


@pytest.mark.parametrize("day", [
    # Other ISO 8601 forms that Python would read.
    "20261001", "2026-W40-4", "2026-274", "2026-10-01T00",
    # Before the credential existed.
    "1000-01-01", "0001-01-01", "1999-12-31"])
def test_a_date_is_exactly_year_month_day_from_2000_on(world, people, day):
    module = world.call("PUT", f"/api/v1/students/{LASID}/modules/presentation",
                        people["up"], json={"completed_on": day})
    assert module.status_code == 422
    assert module.json["error"]["code"] == "invalid_date"
    exam = world.call("POST", "/api/v1/exam-results", people["exam"], json=[
        {"lasid": LASID, "exam": "regional_core", "taken_on": day, "passed": True}])
    assert exam.json["rejected"][0]["code"] == "invalid_date"


def test_a_hold_id_beyond_any_integer_is_not_found(world, people):
    answer = world.call("DELETE", "/api/v1/holds/99999999999999999999999",
                        people["op"])
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"


def test_the_upload_still_works_after_all_that(world, people):
    answer = world.upload(people["up"], LASID, "sa_round1", small_pdf())
    assert answer.status_code == 201


@pytest.mark.parametrize("path", [
    "/api/v1/documents/ab%00cd", "/api/v1/documents/ab%00cd/content",
    "/api/v1/certificates/MEC%00/content", f"/api/v1/students/{LASID}%00",
    "/api/v1/packages?district=D1%00"])
def test_a_nul_character_in_the_address_is_refused_on_every_database(world, people,
                                                                      path):
    answer = world.call("GET", path, people["op"])
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "invalid_characters"


def test_a_nul_character_on_a_public_page_is_refused_not_crashed(world, people):
    answer = world.client.get("/verify?number=MEC-2026-AB%00")
    assert answer.status_code == 400
    assert "NUL character" in answer.get_data(as_text=True)


def test_a_nul_character_in_a_form_field_is_not_a_crash(world, people):
    form = world.client.get("/login").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    answer = world.client.post("/login", data={
        "csrf_token": token, "email": "someone@d1.test\x00", "password": "x" * 12})
    assert answer.status_code in (200, 400)
    assert "Something went wrong" not in answer.get_data(as_text=True)
