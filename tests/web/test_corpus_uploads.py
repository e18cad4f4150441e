"""Every corpus PDF through the HTTP upload, judged as the manifest expects."""

import csv
import time

from tests.conftest import corpus_or_skip

LASID = "0400012345"
REJECTED = {"reject-encrypted": {"encrypted"},
            "reject-malformed": {"malformed", "not_pdf"}}


def manifest_rows() -> list[dict]:
    folder = corpus_or_skip()
    with open(folder / "MANIFEST.tsv", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def test_corpus_verdicts_over_http(world):
    world.district("D1")
    token = world.person("uploader", "D1")
    world.enrol(token, LASID)
    folder = corpus_or_skip()

    disagreements, slowest = [], 0.0
    for row in manifest_rows():
        began = time.monotonic()
        answer = world.upload(token, LASID, "sa_round1",
                              (folder / row["file"]).read_bytes(), row["file"])
        slowest = max(slowest, time.monotonic() - began)
        assert answer.status_code < 500, (row["file"], answer.json)
        expected = row["expected"]
        if expected == "accept":
            agrees = answer.status_code == 201 and answer.json["warnings"] == []
        elif expected == "accept-with-warning":
            agrees = answer.status_code == 201 and answer.json["warnings"] != []
        else:
            agrees = (answer.status_code == 422
                      and answer.json["error"]["code"] in REJECTED[expected])
        if not agrees:
            disagreements.append(row["file"])

    assert disagreements == []
    assert slowest < 10, f"slowest upload took {slowest:.1f} s"
