"""Supervision: near-duplicate groups and the answer-quality flag on appeals, an index for problem analytics

Revision ID: 0003_supervision
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_supervision"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answer_flag", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_appeals_duplicate_of", ["duplicate_of"], unique=False)
        batch_op.create_index(
            "ix_appeals_muni_cat_created", ["municipality", "category", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index("ix_appeals_muni_cat_created")
        batch_op.drop_index("ix_appeals_duplicate_of")
        batch_op.drop_column("answer_flag")
        batch_op.drop_column("duplicate_of")
