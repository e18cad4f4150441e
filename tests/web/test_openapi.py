"""The served OpenAPI document describes every route of the API."""

import re

import pytest


@pytest.fixture
def document(app):
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json


def test_every_api_route_and_method_is_described(app, document):
    described = {path: set(item) for path, item in document["paths"].items()}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in described.get(path, set()):
                missing.append(f"{method} {path}")
    assert missing == []
