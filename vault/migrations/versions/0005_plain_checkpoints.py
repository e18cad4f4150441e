"""audit checkpoints kept as signed plaintext: no wrapped key for new ones

Revision ID: 0005_plain_checkpoints
Revises: 0002_sealing
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_plain_checkpoints"
down_revision = "0002_sealing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch_op:
        batch_op.alter_column("wrapped_key", existing_type=sa.LargeBinary(),
                              nullable=True)
        batch_op.alter_column("key_version", existing_type=sa.Integer(),
                              nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch_op:
        batch_op.alter_column("key_version", existing_type=sa.Integer(),
                              nullable=False)
        batch_op.alter_column("wrapped_key", existing_type=sa.LargeBinary(),
                              nullable=False)
