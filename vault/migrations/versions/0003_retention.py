"""retention: legal holds, removals, tombstones, sweep runs, receipts, the lease

Revision ID: 0003_retention
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import vault.models

revision = "0003_retention"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = vault.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sweep_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("placed_by", sa.Integer(), sa.ForeignKey("people.id"),
                  nullable=True),
        sa.Column("placed_at", UTC, nullable=False),
        sa.Column("lifted_by", sa.Integer(), sa.ForeignKey("people.id"),
                  nullable=True),
        sa.Column("lifted_at", UTC, nullable=True),
    )
    op.create_index("ix_legal_holds_active", "legal_holds",
                    ["lifted_at", "district_id"])
    op.create_index("ix_legal_holds_student_id", "legal_holds", ["student_id"])
    op.create_table(
        "retention_removals",
        sa.Column("student_id", sa.Integer(), primary_key=True,
                  autoincrement=False),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_needed", sa.Date(), nullable=False),
        sa.Column("retention_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("sweep_runs.id"),
                  nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("certificates_kept", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_retention_removals_district_id", "retention_removals",
                    ["district_id"])
    op.create_table(
        "retention_receipts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("sweep_runs.id"),
                  nullable=False),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("object_key", sa.String(64), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("retain_until", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
    )
    op.create_index("ix_retention_receipts_run_id", "retention_receipts", ["run_id"])
    op.create_index("ix_retention_receipts_district_id", "retention_receipts",
                    ["district_id"])
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("sweep_runs.id"),
                  nullable=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(24), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("object_key", sa.String(64), nullable=True),
        sa.Column("retention_date", sa.Date(), nullable=False),
        sa.Column("removed_at", UTC, nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("receipt_id", sa.Integer(), sa.ForeignKey("retention_receipts.id"),
                  nullable=True),
    )
    for column in ("run_id", "district_id", "student_id", "receipt_id"):
        op.create_index(f"ix_tombstones_{column}", "tombstones", [column])
    op.create_table(
        "retention_pending_objects",
        sa.Column("object_key", sa.String(64), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("record_type", sa.String(24), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    leases = op.create_table(
        "retention_leases",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_at", UTC, nullable=True),
    )
    op.bulk_insert(leases, [{"name": "retention_sweep", "holder": None,
                             "expires_at": None}])


def downgrade() -> None:
    for table in ("retention_leases", "tombstones", "retention_receipts",
                  "retention_pending_objects", "retention_removals",
                  "legal_holds", "sweep_runs"):
        op.drop_table(table)
