"""VAULT_DATABASE_URL as deployers write it, made into the URL SQLAlchemy needs.

`postgres://` (Heroku, many hosting panels) and plain `postgresql://` both mean
PostgreSQL through psycopg 3 here; SQLite URLs pass through unchanged. Any
other database is refused with a clear message rather than a driver error.
"""

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from vault.errors import VaultError

POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}


def normalized_database_url(url: str) -> str:
    """The SQLAlchemy URL for `url`: PostgreSQL through psycopg, or SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise VaultError(f"VAULT_DATABASE_URL is not a database URL: {error}",
                         code="bad_configuration") from error

    if parsed.drivername in POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() != "sqlite":
        raise VaultError(f"VAULT_DATABASE_URL names {parsed.drivername!r}; the vault "
                         f"runs on PostgreSQL or SQLite.", code="bad_configuration")
    return parsed.render_as_string(hide_password=False)


def is_postgres(url: str) -> bool:
    return make_url(normalized_database_url(url)).get_backend_name() == "postgresql"
