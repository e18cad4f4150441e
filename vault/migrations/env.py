"""Alembic environment: the vault's metadata, the URL from the vault's settings."""

from alembic import context
from sqlalchemy import create_engine

from vault.models import Base

config = context.config


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as own_connection:
        run(own_connection)
    engine.dispose()
