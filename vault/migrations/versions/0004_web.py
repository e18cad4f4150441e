"""web front end: browser sessions, sign-in attempts, TOTP, semester confirmations

Revision ID: 0004_web
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import vault.models

revision = "0004_web"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = vault.models.UTCDateTime(timezone=True)
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"),
                  nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("last_seen_at", utc, nullable=False),
        sa.Column("ended_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_sessions_person_id", "web_sessions", ["person_id"])

    op.create_table(
        "web_sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", utc, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_sign_in_attempts_at", "web_sign_in_attempts", ["at"])
    op.create_index("ix_web_sign_in_attempts_account", "web_sign_in_attempts",
                    ["account"])
    op.create_index("ix_web_sign_in_attempts_address", "web_sign_in_attempts",
                    ["address"])

    op.create_table(
        "web_totp_secrets",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("people.id"),
                  nullable=False),
        sa.Column("wrapped_secret", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", utc, nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("person_id"),
    )

    op.create_table(
        "web_semester_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("districts.id"),
                  nullable=False),
        sa.Column("semester", sa.String(length=12), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("people.id"),
                  nullable=False),
        sa.Column("confirmed_at", utc, nullable=False),
        sa.Column("qualifying", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("district_id", "semester", "confirmed_at"),
    )
    op.create_index("ix_web_semester_confirmations_district_id",
                    "web_semester_confirmations", ["district_id"])


def downgrade() -> None:
    op.drop_table("web_semester_confirmations")
    op.drop_table("web_totp_secrets")
    op.drop_table("web_sign_in_attempts")
    op.drop_table("web_sessions")
