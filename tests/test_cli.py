"""The `vault` command line: init, districts, people, tokens, demo."""

import io
import os
import stat

import pytest
from click.testing import CliRunner

from sqlalchemy import select

from vault import accounts
from vault.cli import main
from vault.config import Settings
from vault.models import EvidenceDocument
from vault.runtime import Runtime


@pytest.fixture
def vault_cli(tmp_path, monkeypatch, backend_env):
    """Run `vault ...` in-process against a fresh vault on each backend pair."""
    for name, value in backend_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    umask = os.umask(0o022)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    yield run
    os.umask(umask)


def test_init_is_safe_to_run_twice(vault_cli, tmp_path, backend_env):
    first = vault_cli("init")
    assert first.exit_code == 0 and "created" in first.output
    second = vault_cli("init")
    assert second.exit_code == 0 and "created" not in second.output
    for key in (tmp_path / "data" / "keys").iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    if "VAULT_DATABASE_URL" not in backend_env:
        database = tmp_path / "data" / "vault.sqlite3"
        assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0


def test_district_user_and_token(vault_cli):
    vault_cli("init")
    added = vault_cli("district", "add", "D001", "Bayou Parish Schools",
                      "--agreement-signed", "2026-08-14")
    assert added.exit_code == 0 and "D001" in added.output

    typed = vault_cli("user", "add", "Up@Bayou.test", "--role", "uploader",
                      "--district", "D001",
                      input="correct horse battery staple\n" * 2)
    assert typed.exit_code == 0 and "password:" not in typed.output

    token = vault_cli("token", "create", "up@bayou.test")
    assert token.exit_code == 0
    secret = token.output.strip().splitlines()[-1]
    runtime = Runtime.from_settings(Settings.from_env())
    with runtime.sessions() as session:
        person = accounts.person_for_token(session, secret)
        assert person.email == "up@bayou.test"
        assert accounts.check_password(person, "correct horse battery staple")


def test_a_missing_password_is_generated_and_printed(vault_cli):
    vault_cli("init")
    made = vault_cli("user", "add", "op@vault.test", "--role", "operator", input="")
    assert made.exit_code == 0
    assert "password:" in made.output.splitlines()[-1]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--role", "uploader"], "a long password!!\na long password!!\n",
     "must name their district"),
    (["--role", "uploader", "--district", "NOPE"], "a long password!!\n",
     "No district"),
    (["--role", "operator"], "one long password\nanother password\n", "differ"),
    (["--role", "operator"], "short\nshort\n", "at least 12"),
])
def test_user_add_errors_are_one_clear_line(vault_cli, args, stdin, message):
    vault_cli("init")
    failed = vault_cli("user", "add", "x@vault.test", *args, input=stdin)
    assert failed.exit_code == 1
    assert message in failed.output


def test_duplicate_district_and_unknown_token_owner(vault_cli):
    vault_cli("init")
    vault_cli("district", "add", "D1", "One")
    again = vault_cli("district", "add", "d1", "One again")
    assert again.exit_code == 1 and "already exists" in again.output
    nobody = vault_cli("token", "create", "nobody@vault.test")
    assert nobody.exit_code == 1


@pytest.mark.parametrize("code", ["A B", "A/B", "<X>", "ÄÖ", "D\x01", "X" * 17])
def test_a_district_code_is_letters_digits_and_dashes(vault_cli, code):
    vault_cli("init")
    refused = vault_cli("district", "add", code, "Some Schools")
    assert refused.exit_code == 1
    assert "letters, digits, dashes or underscores" in refused.output
    assert vault_cli("district", "add", "RIVER-BEND_2", "River Bend").exit_code == 0


def test_demo_loads_and_prints_how_to_sign_in(vault_cli, tmp_path):
    vault_cli("init")
    loaded = vault_cli("demo")
    assert loaded.exit_code == 0
    assert "/login" in loaded.output and "uploader@demo.vault" in loaded.output
    assert len(list((tmp_path / "demo-pdfs").glob("*.pdf"))) == 3
    runtime = Runtime.from_settings(Settings.from_env())
    with runtime.sessions() as session:
        uploader = accounts.person_by_email(session, "uploader@demo.vault")
        password = next(line.split("password: ")[1] for line in
                        loaded.output.splitlines() if "uploader@demo.vault" in line)
        assert accounts.check_password(uploader, password)
    rerun = vault_cli("demo")
    assert rerun.exit_code == 0 and "already loaded" in rerun.output


def test_fsck_reports_orphans_and_missing_objects(vault_cli):
    vault_cli("init")
    vault_cli("demo")
    clean = vault_cli("fsck")
    assert clean.exit_code == 0, clean.output

    runtime = Runtime.from_settings(Settings.from_env())
    runtime.store.put("0rphan0000", io.BytesIO(b"ciphertext"))

    young = vault_cli("fsck", "--repair")
    assert young.exit_code == 0
    assert "recent object 0rphan0000" in young.output
    assert "0rphan0000" in set(runtime.store.keys())

    found = vault_cli("fsck", "--older-than", "0")
    assert found.exit_code == 1
    assert "orphaned object 0rphan0000" in found.output
    assert "0rphan0000" in set(runtime.store.keys())

    repaired = vault_cli("fsck", "--repair", "--older-than", "0")
    assert "removed object 0rphan0000" in repaired.output
    assert repaired.exit_code == 0
    assert "0rphan0000" not in set(runtime.store.keys())

    with runtime.sessions() as session:
        document = session.scalars(select(EvidenceDocument)).first()
        runtime.store.delete(document.object_key)
    lost = vault_cli("fsck", "--repair", "--older-than", "0")
    assert lost.exit_code == 1
    assert f"MISSING object {document.object_key} of document" in lost.output
    with runtime.sessions() as session:
        assert session.get(EvidenceDocument, document.id) is not None
    runtime.store.close()
