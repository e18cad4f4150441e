"""The vault runtime of the current app, and a transaction per request."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request
from sqlalchemy.orm import Session

from vault.db import unit_of_work
from vault.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["vault"]


@contextmanager
def transaction() -> Iterator[Session]:
    """The request's unit of work: committed at the end, rolled back on error."""
    with unit_of_work(runtime().sessions) as session:
        yield session


def client_address() -> str | None:
    return request.remote_addr
