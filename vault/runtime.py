"""What a request, a CLI command or a job needs: settings, database, store, keys.

Built once per process. Objects written during a transaction are tracked on the
session; if the transaction rolls back, they are deleted again, so a failed
commit never leaves a silent orphan in the store.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from vault.config import Settings
from vault.crypto import MasterKeyring, SigningKey
from vault.db import make_engine, make_sessionmaker
from vault.errors import StorageError
from vault.storage import ObjectStore, open_store

log = logging.getLogger(__name__)

NEW_OBJECTS = "vault_new_objects"


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore

    @classmethod
    def from_settings(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.database_url)
        runtime = cls(settings, engine, make_sessionmaker(engine),
                      open_store(settings.store_url, settings.s3))
        event.listen(runtime.sessions, "after_commit", _forget_new_objects)
        event.listen(runtime.sessions, "after_rollback", runtime._remove_new_objects)
        return runtime

    @cached_property
    def keyring(self) -> MasterKeyring:
        return MasterKeyring.load(self.settings.key_dir, self.settings.master_keys)

    @cached_property
    def signing_key(self) -> SigningKey:
        return SigningKey.load(self.settings.key_dir, self.settings.signing_key)

    def today(self) -> date:
        """Today in the vault's time zone."""
        return datetime.now(self.settings.timezone).date()

    def track_new_object(self, session: Session, key: str) -> None:
        """Delete `key` from the store if this session's transaction rolls back."""
        session.info.setdefault(NEW_OBJECTS, []).append(key)

    def _remove_new_objects(self, session: Session) -> None:
        for key in session.info.pop(NEW_OBJECTS, []):
            try:
                self.store.delete(key)
                log.info("object_rolled_back key=%s", key)
            except StorageError:
                log.exception("object_rollback_failed key=%s", key)

    def health(self) -> dict[str, str]:
        """Which of the database and the store answer: name -> "ok" or a reason."""
        status = {}
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as error:  # any driver failure means "down" here
            status["database"] = type(error).__name__
        try:
            self.store.ping()
            status["store"] = "ok"
        except StorageError as error:
            status["store"] = error.code
        return status


def _forget_new_objects(session: Session) -> None:
    session.info.pop(NEW_OBJECTS, None)
