"""Two stores, one truth: S3 or the database failing mid-upload loses nothing."""

import io
import secrets

import pikepdf
import pytest
from sqlalchemy import func, select

from devstack.seaweed import SeaweedServer
from tests.conftest import World
from vault.config import Settings
from vault.crypto import ensure_keys
from vault.models import EvidenceDocument
from vault.schema import upgrade
from vault.storage.s3 import PART_SIZE
from web.app import create_app

LASID = "0400077001"


def bulky_pdf(size: int) -> bytes:
    """A valid one-page PDF padded with an image-like stream to about `size`."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.Padding = pdf.make_stream(secrets.token_bytes(size))
    buffer = io.BytesIO()
    pdf.save(buffer, compress_streams=False)
    return buffer.getvalue()


@pytest.fixture
def outage(tmp_path, postgres_databases, frozen_today):
    """A vault on PostgreSQL and an S3 server of its own that the test may stop."""
    server = SeaweedServer(tmp_path / "weed").start()
    url = postgres_databases.create()
    s3 = server.s3_settings()
    settings = Settings.from_env({
        "VAULT_DATA_DIR": str(tmp_path / "data"), "VAULT_DATABASE_URL": url,
        "VAULT_STORE_URL": "s3://outage-test/objects",
        "VAULT_S3_ENDPOINT": s3.endpoint, "VAULT_S3_ACCESS_KEY": s3.access_key,
        "VAULT_S3_SECRET_KEY": s3.secret_key, "VAULT_S3_REGION": s3.region})
    ensure_keys(settings.key_dir)
    app = create_app(settings, {"TESTING": True})
    runtime = app.extensions["vault"]
    runtime.store.create()
    upgrade(runtime.engine)
    world = World(runtime, app.test_client())
    world.district("D1")
    world.token = world.person("uploader", "D1")
    assert world.enrol(world.token, LASID).status_code == 201

    yield world, server
    server.stop()
    runtime.engine.dispose()
    runtime.store.close()
    postgres_databases.drop(url)


def document_rows(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count(EvidenceDocument.id)))


def test_s3_stopping_mid_upload_is_a_503_and_leaves_nothing(outage, monkeypatch):
    world, server = outage
    store = world.runtime.store
    real_put = store.put

    def put_then_lose_the_server(key, stream, *args, **kwargs):
        class Failing:
            sent = 0

            def read(self, size=-1):
                block = stream.read(size)
                Failing.sent += len(block)
                if Failing.sent > PART_SIZE:
                    server.kill()
                return block

        return real_put(key, Failing(), *args, **kwargs)

    monkeypatch.setattr(store, "put", put_then_lose_the_server)
    answer = world.upload(world.token, LASID, "sa_round1", bulky_pdf(3 * PART_SIZE))

    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "storage_unavailable"
    assert document_rows(world.runtime) == 0
    health = world.client.get("/healthz")
    assert health.status_code == 503 and health.json["checks"]["store"] != "ok"

    server.restart()
    assert world.client.get("/healthz").status_code == 200
    assert list(store.keys()) == []
    store.discard_partials(older_than_seconds=0)
    assert list(store.incomplete_uploads()) == []

    monkeypatch.setattr(store, "put", real_put)
    again = world.upload(world.token, LASID, "sa_round1", bulky_pdf(1 << 20))
    assert again.status_code == 201
    assert document_rows(world.runtime) == 1


def test_s3_down_before_an_upload_is_a_503(outage):
    world, server = outage
    server.kill()
    answer = world.upload(world.token, LASID, "sa_round1", bulky_pdf(1 << 16))
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "storage_unavailable"
    assert document_rows(world.runtime) == 0


def test_the_database_failing_after_the_object_is_written_removes_it(
        outage, monkeypatch):
    world, _ = outage
    session_class = type(world.runtime.sessions())
    real_flush = session_class.flush

    def flush_fails(self, *args, **kwargs):
        if any(isinstance(row, EvidenceDocument) for row in self.new):
            raise RuntimeError("the database went away")
        return real_flush(self, *args, **kwargs)

    monkeypatch.setattr(session_class, "flush", flush_fails)
    answer = world.upload(world.token, LASID, "sa_round1", bulky_pdf(1 << 20))

    assert answer.status_code == 500
    assert list(world.runtime.store.keys()) == []
    monkeypatch.undo()
    assert document_rows(world.runtime) == 0


def test_healthz_is_503_when_the_database_is_down(tmp_path, seaweed, s3_store_env):
    settings = Settings.from_env({
        "VAULT_DATA_DIR": str(tmp_path / "data"),
        "VAULT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",
        **s3_store_env})
    ensure_keys(settings.key_dir)
    app = create_app(settings, {"TESTING": True})
    app.extensions["vault"].store.create()
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] != "ok"
    assert answer.json["checks"]["store"] == "ok"
