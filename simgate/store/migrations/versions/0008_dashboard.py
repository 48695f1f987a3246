"""dashboard: browser sessions of the dashboard, and the indexes of its pages

Self-contained (one new table, new indexes), so it can be relinked after another revision
without touching anything else. The indexes serve the Sent list's number and date filters and
the overview's per-day counts (see benchmarks/dashboard.py for the plans they change).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_dashboard_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_dashboard_sessions")),
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_sessions_account", ["account_id"], unique=False)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_account_recipient", ["account_id", "recipient", "id"], unique=False
        )
        batch_op.create_index(
            "ix_messages_account_created", ["account_id", "created_ms"], unique=False
        )
        batch_op.create_index(
            "ix_messages_account_state_created",
            ["account_id", "state", "created_ms"],
            unique=False,
        )
        batch_op.create_index(
            "ix_messages_account_state_sent", ["account_id", "state", "sent_ms"], unique=False
        )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_account_received", ["account_id", "received_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_account_received")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_account_state_sent")
        batch_op.drop_index("ix_messages_account_state_created")
        batch_op.drop_index("ix_messages_account_created")
        batch_op.drop_index("ix_messages_account_recipient")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_sessions_account")
    op.drop_table("dashboard_sessions")
