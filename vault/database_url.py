"""Database URLs as people write them, turned into the form SQLAlchemy needs.

Hosting providers and tutorials hand out `postgres://` or `postgresql://` URLs.
SQLAlchemy reads both as "PostgreSQL through psycopg2" (or refuses `postgres`),
and the vault ships psycopg 3, so every PostgreSQL URL is given the explicit
`postgresql+psycopg` driver. The rest of the URL (user, password, host, query)
is passed on byte for byte: it is never parsed and rebuilt, so percent-escapes
in a password survive.
"""

POSTGRESQL_PSYCOPG = "postgresql+psycopg"

# Schemes, lower case, that mean "PostgreSQL through the default driver".
_PLAIN_POSTGRESQL = frozenset({"postgres", "postgresql", POSTGRESQL_PSYCOPG})


def normalized_database_url(url: str) -> str:
    """`url` with any PostgreSQL scheme rewritten to `postgresql+psycopg://`.

    SQLite URLs, URLs that name another PostgreSQL driver on purpose
    (`postgresql+asyncpg://`) and URLs of other databases come back unchanged.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url

    if scheme.strip().lower() in _PLAIN_POSTGRESQL:
        return f"{POSTGRESQL_PSYCOPG}://{rest}"
    return url
