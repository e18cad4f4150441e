"""SQLite never hands out a removed student's id again (AUTOINCREMENT)

Audit events, tombstones and removal records name a student by id after the
student row is gone; a plain SQLite INTEGER PRIMARY KEY would give that id to
the next student enrolled. The tables are rebuilt with AUTOINCREMENT and the
counter starts above every id still named anywhere. PostgreSQL's sequences
never reuse an id, so nothing changes there.

Revision ID: 0006_no_reused_student_ids
Revises: 0003_retention
"""

from alembic import op

revision = "0006_no_reused_student_ids"
down_revision = "0003_retention"
branch_labels = None
depends_on = None

HIGHEST_STUDENT_NAMED = """
SELECT MAX(highest) FROM (
    SELECT COALESCE(MAX(id), 0) AS highest FROM students
    UNION ALL SELECT COALESCE(MAX(student_id), 0) FROM tombstones
    UNION ALL SELECT COALESCE(MAX(student_id), 0) FROM retention_removals
    UNION ALL SELECT COALESCE(MAX(CAST(subject_id AS INTEGER)), 0) FROM audit_events
        WHERE subject_type = 'student_record'
)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    op.execute("DELETE FROM sqlite_sequence WHERE name = 'students'")
    op.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('students', "
               f"({HIGHEST_STUDENT_NAMED}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)


def _rebuild(autoincrement: bool) -> None:
    """Recreate the tables with or without AUTOINCREMENT, rows and indexes kept.

    Dropping the old table must not delete through foreign keys; the pragma
    only takes effect outside a transaction, and on a fresh database (where
    one is open) the tables are empty anyway.
    """
    op.execute("PRAGMA foreign_keys=OFF")
    for table in ("students", "exam_results"):
        with op.batch_alter_table(table, recreate="always", table_kwargs={
                "sqlite_autoincrement": autoincrement}):
            pass
    op.execute("PRAGMA foreign_keys=ON")
