"""Tenancy and roles on every API route: route x role x district, as a table.

District D1's student has three documents and an issued certificate (so a sealed
package exists). Every person of every role calls every route; the answer must
be the contract's: 401 without a token, 403 for a role that may not, 404 for
another tenant's record, success otherwise.
"""

import pytest

from tests.conftest import small_pdf

LASID = "0400012345"
KINDS = ("sa_round1", "sa_round2", "mentor_checklist")

# who -> (role, districts)
PEOPLE = {
    "operator": ("operator", ()),
    "uploader_d1": ("uploader", ("D1",)),
    "admin_d1": ("district_admin", ("D1",)),
    "uploader_d2": ("uploader", ("D2",)),
    "auditor_d1": ("auditor", ("D1",)),
    "auditor_d2": ("auditor", ("D2",)),
    "exam_provider": ("exam_provider", ()),
}

OK_STAFF = {"operator": 200, "uploader_d1": 200, "admin_d1": 200,
            "uploader_d2": 404, "auditor_d1": 403, "auditor_d2": 403,
            "exam_provider": 403, None: 401}
READ_DOCUMENT = {**OK_STAFF, "auditor_d1": 200, "auditor_d2": 404}
UPLOAD = {**OK_STAFF, "operator": 403, "uploader_d1": 201, "admin_d1": 201}
EXAMS = {"operator": 200, "exam_provider": 200, "uploader_d1": 403, "admin_d1": 403,
         "uploader_d2": 403, "auditor_d1": 403, "auditor_d2": 403, None: 401}
ISSUE = {"operator": 409, "uploader_d1": 403, "admin_d1": 403, "uploader_d2": 403,
         "auditor_d1": 403, "auditor_d2": 403, "exam_provider": 403, None: 401}
ENROL = {**OK_STAFF, "uploader_d2": 404}


def routes(ids):
    document, number = ids["document"], ids["certificate"]
    student = f"/api/v1/students/{LASID}"
    enrol = {"first_name": "Jordan", "last_name": "Rivera", "school": "Riverbend",
             "cohort": 2027}
    return [
        ("PUT", student, {"json": enrol}, ENROL),
        ("GET", student, {}, OK_STAFF),
        ("PUT", f"{student}/modules/credit_applications",
         {"json": {"completed_on": "2026-10-29"}}, OK_STAFF),
        ("GET", f"{student}/completeness", {}, OK_STAFF),
        ("POST", f"{student}/documents", "upload", UPLOAD),
        ("GET", f"/api/v1/documents/{document}", {}, READ_DOCUMENT),
        ("GET", f"/api/v1/documents/{document}/content", {}, READ_DOCUMENT),
        ("POST", "/api/v1/exam-results",
         {"json": [{"lasid": LASID, "exam": "statewide_basic",
                    "taken_on": "2026-11-20", "score": 70, "passed": False}]}, EXAMS),
        ("POST", f"{student}/certificates", {"json": {"level": "statewide_basic"}},
         ISSUE),
        ("GET", f"/api/v1/certificates/{number}/content", {}, OK_STAFF),
    ]


@pytest.fixture
def scene(world):
    world.district("D1")
    world.district("D2")
    tokens = {who: world.person(role, *districts, email=f"{who}@test.vault")
              for who, (role, districts) in PEOPLE.items()}
    assert world.enrol(tokens["uploader_d1"], LASID).status_code == 201
    world.modules(tokens["uploader_d1"], LASID)
    documents = [world.upload(tokens["uploader_d1"], LASID, kind, small_pdf()).json
                 for kind in KINDS]
    assert world.exam(tokens["exam_provider"], LASID).json["accepted"] == 1
    issued = world.call("POST", f"/api/v1/students/{LASID}/certificates",
                        tokens["operator"], json={"level": "regional_core"})
    assert issued.status_code == 201, issued.json
    ids = {"document": documents[0]["id"], "certificate": issued.json["number"]}
    return world, tokens, ids


def test_every_route_for_every_role_and_district(scene):
    world, tokens, ids = scene
    failures = []
    for method, path, options, expected in routes(ids):
        for who, status in expected.items():
            if options == "upload":
                answer = (world.upload(tokens[who], LASID, "sa_round1", small_pdf())
                          if who else world.call(method, path))
            else:
                answer = world.call(method, path, tokens.get(who), **options)
            if answer.status_code != status:
                failures.append((method, path, who, answer.status_code, status))
            if answer.status_code >= 400:
                body = answer.get_json(silent=True) or {}
                if not body.get("error", {}).get("code"):
                    failures.append((method, path, who, "no JSON error code"))
    assert failures == []


def test_other_tenants_answers_match_a_missing_record(scene):
    world, tokens, ids = scene
    foreign = world.call("GET", f"/api/v1/documents/{ids['document']}",
                         tokens["uploader_d2"])
    missing = world.call("GET", "/api/v1/documents/0000nothere",
                         tokens["uploader_d2"])
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["error"]["code"] == missing.json["error"]["code"]


def test_unknown_and_malformed_tokens_are_401(world):
    for header in ("Bearer nope", "Basic abc", "Bearer ", ""):
        answer = world.client.get("/api/v1/students/0400012345",
                                  headers={"Authorization": header})
        assert answer.status_code == 401
        assert answer.json["error"]["code"] == "unauthorized"
