"""The `vault` command line: init, districts, people, tokens, demo."""

import os
import stat

import pytest
from click.testing import CliRunner

from vault.cli import main
from vault.config import Settings
from vault.runtime import Runtime
from vault import accounts


@pytest.fixture
def vault_cli(tmp_path, monkeypatch):
    """Run `vault ...` in-process against a fresh data folder."""
    monkeypatch.setenv("VAULT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    umask = os.umask(0o022)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    yield run
    os.umask(umask)


def test_init_is_safe_to_run_twice(vault_cli, tmp_path):
    first = vault_cli("init")
    assert first.exit_code == 0 and "created" in first.output
    second = vault_cli("init")
    assert second.exit_code == 0 and "created" not in second.output
    for key in (tmp_path / "data" / "keys").iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    database = tmp_path / "data" / "vault.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0


def test_district_user_and_token(vault_cli):
    vault_cli("init")
    added = vault_cli("district", "add", "D001", "Bayou Parish Schools",
                      "--agreement-signed", "2026-08-14")
    assert added.exit_code == 0 and "D001" in added.output

    typed = vault_cli("user", "add", "Up@Bayou.test", "--role", "uploader",
                      "--district", "D001",
                      input="correct horse battery staple\ncorrect horse battery staple\n")
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
