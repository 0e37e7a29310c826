"""SLA alerts: the running term of each appeal and its next alert, indexed for the sweep

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OPEN = ("awaiting_place", "triage", "routed", "in_work", "reopened")


def upgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_term", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("sla_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("intermediate_answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_alert_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_alert_stage", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_appeals_next_alert_at", ["next_alert_at"], unique=False)

    # Appeals already open get their first-answer clock; stage "@0" makes the first sweep work out
    # from the config which steps have passed, and send only the latest of them.
    appeals = sa.table(
        "appeals",
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("first_answer_due", sa.DateTime(timezone=True)),
        sa.column("sla_term", sa.String()),
        sa.column("sla_started_at", sa.DateTime(timezone=True)),
        sa.column("next_alert_at", sa.DateTime(timezone=True)),
        sa.column("next_alert_stage", sa.String()),
    )
    op.execute(
        appeals.update()
        .where(appeals.c.status.in_(_OPEN), appeals.c.first_answer_due.is_not(None))
        .values(
            sla_term="first_answer",
            sla_started_at=appeals.c.created_at,
            next_alert_at=appeals.c.created_at,
            next_alert_stage="first_answer@0",
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index("ix_appeals_next_alert_at")
        batch_op.drop_column("next_alert_stage")
        batch_op.drop_column("next_alert_at")
        batch_op.drop_column("intermediate_answered_at")
        batch_op.drop_column("sla_started_at")
        batch_op.drop_column("sla_term")
