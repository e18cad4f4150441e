"""Migrations: a database of the earlier schema, with records in it, upgrades."""

from alembic import command
from sqlalchemy import text

from vault.db import make_engine
from vault.schema import alembic_config, upgrade

EARLIER_HEADS = ("0003_retention", "0004_web", "0005_plain_checkpoints")


def test_a_removed_students_id_is_never_handed_out_again_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'vault.sqlite3'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        for head in EARLIER_HEADS:
            command.upgrade(config, head)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO districts (id, code, name, created_at) "
            "VALUES (1, 'D1', 'One', '2026-01-01')"))
        for number in (1, 2, 3):
            connection.execute(text(
                "INSERT INTO students (id, district_id, lasid, first_name, last_name,"
                " school, cohort, created_at, updated_at) VALUES (:id, 1, :lasid, "
                "'A', 'B', 'S', 2027, '2026-01-01', '2026-01-01')"),
                {"id": number, "lasid": f"040000000{number}"})
        connection.execute(text(
            "INSERT INTO module_completions (student_id, module, completed_on, "
            "recorded_at) VALUES (1, 'presentation', '2026-10-01', '2026-10-01')"))
        # Student 3 was removed by a sweep; an audit event still names it.
        connection.execute(text("DELETE FROM students WHERE id = 3"))
        connection.execute(text(
            "INSERT INTO audit_events (at, action, subject_type, subject_id, "
            "details) VALUES ('2026-01-02', 'record_removed', 'student_record', "
            "'3', '{}')"))

    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO students (district_id, lasid, first_name, last_name, school,"
            " cohort, created_at, updated_at) VALUES (1, '0400000009', 'C', 'D', "
            "'S', 2027, '2026-02-01', '2026-02-01')"))
        new_id = connection.scalar(text(
            "SELECT id FROM students WHERE lasid = '0400000009'"))
        kept = connection.scalar(text(
            "SELECT count(*) FROM module_completions WHERE student_id = 1"))
        broken = connection.execute(text("PRAGMA foreign_key_check")).all()
    engine.dispose()

    assert new_id == 4
    assert kept == 1 and broken == []
