"""outbox: which process holds a claim

Revision ID: 0004_outbox_claims
Revises: 0003_supervision
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_outbox_claims"
down_revision = "0003_supervision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_by")
