"""Throwaway databases on the real local PostgreSQL, for tests.

One `PostgresDatabases` serves one test session. It makes a template database
`vault_tmpl_<random>` and migrates it to the newest schema once; every test
then gets its own copy, `vault_t_<random>`, made by `CREATE DATABASE ...
TEMPLATE`, which copies files instead of replaying migrations and takes a few
tens of milliseconds. Random suffixes keep parallel runs (two developers, CI,
pytest-xdist workers) from ever touching each other's databases.

Nothing outlives the session as long as the caller tears down in yield
fixtures, which pytest runs even when a test fails or errors:

    @pytest.fixture(scope="session")
    def postgres_databases():
        reason = postgres_unavailable_reason()
        if reason:
            pytest.skip(reason)
        databases = PostgresDatabases()
        yield databases
        databases.close()

    @pytest.fixture
    def postgres_url(postgres_databases):
        url = postgres_databases.create()
        yield url
        postgres_databases.drop(url)

`close()` also drops any copy a caller forgot. Only a process killed outright
(SIGKILL, power loss) leaves `vault_t_*` and `vault_tmpl_*` databases behind;
they hold only test data and can be dropped by hand.

The server is 127.0.0.1:5432 as user `postgres` without a password, or the
libpq URL in VAULT_TEST_POSTGRES_URL (its database is the one to connect to
for CREATE and DROP DATABASE, normally `postgres`). PostgreSQL 13 or newer.
"""

import os
import secrets

import psycopg
from psycopg import sql
from sqlalchemy import URL, make_url

from vault.database_url import normalized_database_url
from vault.db import make_engine
from vault.schema import upgrade

ADMIN_URL = (os.environ.get("VAULT_TEST_POSTGRES_URL")
             or "postgresql://postgres@127.0.0.1:5432/postgres")
CONNECT_TIMEOUT_SECONDS = 3
TEMPLATE_PREFIX = "vault_tmpl_"
COPY_PREFIX = "vault_t_"


def postgres_unavailable_reason(admin_url: str = ADMIN_URL) -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it answers."""
    try:
        with psycopg.connect(admin_url, connect_timeout=CONNECT_TIMEOUT_SECONDS):
            return None
    except psycopg.Error as error:
        lines = str(error).strip().splitlines() or [""]
        return (f"PostgreSQL at {_where(admin_url)} is not reachable "
                f"({type(error).__name__}: {lines[0]})")


def postgres_available(admin_url: str = ADMIN_URL) -> bool:
    """True when PostgreSQL accepts a connection within three seconds."""
    return postgres_unavailable_reason(admin_url) is None


class PostgresDatabases:
    """A migrated template and per-test copies of it, all dropped at the end."""

    def __init__(self, admin_url: str = ADMIN_URL):
        self._admin_url = admin_url
        self._copies: set[str] = set()
        self.template = _unique_name(TEMPLATE_PREFIX)

        # template0 is never modified by administrators, unlike template1.
        self._create_database(self.template, "template0")
        try:
            engine = make_engine(normalized_database_url(self.url(self.template)))
            try:
                upgrade(engine)
            finally:
                # No session may stay on a template, or copying it fails.
                engine.dispose()
        except BaseException:
            self._drop_database(self.template)
            raise

    def create(self, migrated: bool = True) -> str:
        """A new database's URL: a copy of the migrated template, or empty."""
        name = _unique_name(COPY_PREFIX)
        self._create_database(name, self.template if migrated else "template0")
        self._copies.add(name)
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by `create`, ending its connections first."""
        name = make_url(url).database
        if name not in self._copies:
            raise ValueError(f"{name!r} was not made by this PostgresDatabases")
        self._drop_database(name)
        self._copies.discard(name)

    def close(self) -> None:
        """Drop every copy still there, then the template; safe to call twice."""
        for name in sorted(self._copies):
            self._drop_database(name)
        self._copies.clear()
        if self.template:
            self._drop_database(self.template)
            self.template = ""

    def url(self, name: str) -> str:
        """The URL of database `name` on this server, as a deployer writes it."""
        params = psycopg.conninfo.conninfo_to_dict(self._admin_url)
        port = params.get("port")
        address = URL.create(
            "postgresql",
            username=params.get("user"),
            password=params.get("password"),
            host=params.get("host"),
            port=int(port) if port else None,
            database=name,
        )
        return address.render_as_string(hide_password=False)

    def __enter__(self) -> "PostgresDatabases":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _create_database(self, name: str, template: str) -> None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
            sql.Identifier(name), sql.Identifier(template))
        with self._admin() as connection:
            connection.execute(statement)

    def _drop_database(self, name: str) -> None:
        with self._admin() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", [name])

            # FORCE also ends a connection that arrived after the line above.
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                               .format(sql.Identifier(name)))

    def _admin(self) -> psycopg.Connection:
        # CREATE and DROP DATABASE refuse to run inside a transaction.
        return psycopg.connect(self._admin_url, autocommit=True,
                               connect_timeout=CONNECT_TIMEOUT_SECONDS)


def _unique_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6)}"


def _where(admin_url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    return (f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
            f" as {params.get('user', '?')}")
