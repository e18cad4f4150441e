"""Auditors see sealed packages of the districts granted to them, nothing else."""

import csv
import io

import pytest

from tests.sealing.conftest import LASID, OTHER_LASID, issue

ALLOWED = ("auditor", "staff", "operator")
REFUSED = ("other_auditor", "other_staff")


def package_routes(sealed) -> list[str]:
    document = sealed.document_ids[0]
    return [f"/api/v1/packages/{sealed.package_id}",
            f"/api/v1/packages/{sealed.package_id}/download",
            f"/api/v1/documents/{document}",
            f"/api/v1/documents/{document}/content"]


@pytest.mark.parametrize("who", ALLOWED + REFUSED)
def test_every_package_and_document_route(world, sealed, who):
    token = getattr(sealed, who)
    for route in package_routes(sealed):
        answer = world.call("GET", route, token)
        expected = 200 if who in ALLOWED else 404
        assert answer.status_code == expected, (who, route, answer.status_code)
        if expected == 404:
            assert answer.json["error"]["code"] == "not_found"


def test_an_auditor_sees_no_document_outside_a_sealed_package(world, sealed):
    from tests.conftest import small_pdf

    later = world.upload(sealed.staff, LASID, "sa_round1", small_pdf("Later upload"))
    assert later.status_code == 201
    route = f"/api/v1/documents/{later.json['id']}/content"
    assert world.call("GET", route, sealed.auditor).status_code == 404
    assert world.call("GET", route, sealed.staff).status_code == 200


def test_the_package_list_holds_granted_districts_only(world, sealed):
    other_staff_of_d2 = sealed.other_staff
    issue(world, other_staff_of_d2, sealed.operator, OTHER_LASID)

    def listed(token, query=""):
        answer = world.call("GET", f"/api/v1/packages{query}", token)
        return answer.status_code, [p["district"] for p in
                                    (answer.json or {}).get("packages", [])]

    assert listed(sealed.auditor) == (200, ["D1"])
    assert listed(sealed.other_auditor) == (200, ["D2"])
    assert listed(sealed.operator)[1] == ["D2", "D1"]
    assert listed(sealed.auditor, "?district=D1") == (200, ["D1"])
    assert listed(sealed.auditor, "?district=D2")[0] == 404
    assert listed(sealed.other_staff, "?district=D1")[0] == 404


def test_roles_without_packages_are_refused(world, sealed):
    provider = world.person("exam_provider")
    answer = world.call("GET", f"/api/v1/packages/{sealed.package_id}", provider)
    assert answer.status_code == 403
    assert world.call("GET", "/api/v1/packages").status_code == 401


def test_audit_events_per_district_and_student(world, sealed):
    world.call("GET", f"/api/v1/packages/{sealed.package_id}/download", sealed.auditor)

    by_district = world.call("GET", "/api/v1/audit/events?district=D1", sealed.auditor)
    assert by_district.status_code == 200
    actions = [event["action"] for event in by_district.json["events"]]
    assert actions[0] == "package_downloaded"
    assert "document_uploaded" in actions

    by_student = world.call("GET", f"/api/v1/audit/events?student={LASID}",
                            sealed.operator)
    assert by_student.status_code == 200
    subjects = {event["subject_type"] for event in by_student.json["events"]}
    assert {"student_record", "document", "certificate", "package"} <= subjects
    assert {event["lasid"] for event in by_student.json["events"]} == {LASID}

    for query in ("district=D1", f"student={LASID}"):
        other = world.call("GET", f"/api/v1/audit/events?{query}", sealed.other_auditor)
        assert other.status_code == 404
    assert world.call("GET", "/api/v1/audit/events?district=D1",
                      sealed.staff).status_code == 403


def test_a_district_exports_the_reads_of_its_students_records(world, sealed):
    world.call("GET", f"/api/v1/packages/{sealed.package_id}/download", sealed.auditor)
    world.call("GET", f"/api/v1/documents/{sealed.document_ids[0]}/content",
               sealed.auditor)
    world.call("GET", f"/api/v1/students/{LASID}", sealed.staff)

    answer = world.call("GET", "/api/v1/audit/disclosures.csv", sealed.staff)
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.data.decode())))
    reads = {(row["reader_role"], row["action"], row["lasid"]) for row in rows}
    assert ("auditor", "package_downloaded", LASID) in reads
    assert ("auditor", "document_read", LASID) in reads
    assert ("district_admin", "student_read", LASID) in reads
    assert all(row["action"].endswith(("_read", "_downloaded")) for row in rows)

    assert world.call("GET", "/api/v1/audit/disclosures.csv?district=D1",
                      sealed.other_staff).status_code == 404
