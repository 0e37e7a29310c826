"""outbox: when a message was given up on

Revision ID: 0006_outbox_failed_at
Revises: 0005_invites
Create Date: 2026-12-07

Failures recorded before this revision kept no time of their own; they get the time their last
attempt was due (not_before), which is what `otklik status` counted them by until now.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_outbox_failed_at"
down_revision = "0005_invites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE outbox SET failed_at = not_before WHERE status = 'failed'")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("failed_at")
