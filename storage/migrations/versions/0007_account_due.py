"""appeals: the first-answer deadline of the account that got the appeal late

Revision ID: 0007_account_due
Revises: 0006_outbox_failed_at
Create Date: 2026-12-07

An appeal that reaches its account after time in triage (or waiting for the citizen to name the
place) gives that account its own deadline: the citizen's, moved on by the working time before the
account had it. The alert ladder runs on it; NULL means the citizen's deadline is the account's.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_account_due"
down_revision = "0006_outbox_failed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appeals") as batch:
        batch.add_column(sa.Column("account_due", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appeals") as batch:
        batch.drop_column("account_due")
