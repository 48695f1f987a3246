"""dashboard_b: indexes of the dashboard's inbox threads

The Inbox page groups an account's received SMS by number and reads one number's SMS both ways
(received from it, sent to it) newest first, a page at a time. Without these indexes each of
those reads every row of the account (measured in benchmarks/dashboard_b.py). Indexes only, so
it can be relinked after another revision without touching anything else.

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_account_number", ["account_id", "number", "received_ms"], unique=False
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_account_recipient",
            ["account_id", "recipient", "created_ms"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_account_recipient")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_account_number")
