"""Sealed packages in write-once storage, the audit hash chain, checkpoints.

Revision ID: 0002_sealing
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import vault.models

revision = "0002_sealing"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_audit_events_seq", ["seq"])

    with op.batch_alter_table("sealed_packages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=20), nullable=False,
                                      server_default="certificate"))
        batch_op.add_column(sa.Column("sealed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("object_key", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("signature_key", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("wrapped_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("key_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("size", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signing_key_version", sa.Integer(),
                                      nullable=True))
        batch_op.add_column(sa.Column("signing_key_fingerprint", sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("public_key_pem", sa.String(length=200),
                                      nullable=True))
        batch_op.add_column(sa.Column("retain_until",
                                      vault.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.create_foreign_key("fk_sealed_packages_sealed_by", "people",
                                    ["sealed_by"], ["id"])
        batch_op.create_unique_constraint("uq_sealed_packages_object_key",
                                          ["object_key"])
        batch_op.create_unique_constraint("uq_sealed_packages_signature_key",
                                          ["signature_key"])

    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", vault.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("signing_key_version", sa.Integer(), nullable=False),
        sa.Column("signing_key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("retain_until", vault.models.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("object_key", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_key"),
    )
    op.create_index("ix_audit_checkpoints_seq", "audit_checkpoints", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_checkpoints_seq", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("sealed_packages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_sealed_packages_signature_key", type_="unique")
        batch_op.drop_constraint("uq_sealed_packages_object_key", type_="unique")
        batch_op.drop_constraint("fk_sealed_packages_sealed_by", type_="foreignkey")
        for column in ("retain_until", "public_key_pem", "signing_key_fingerprint",
                       "signing_key_version", "size", "sha256", "key_version",
                       "wrapped_key", "signature_key", "object_key", "sealed_by",
                       "reason"):
            batch_op.drop_column(column)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_events_seq", type_="unique")
        for column in ("hash", "prev_hash", "seq"):
            batch_op.drop_column(column)
