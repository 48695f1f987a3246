"""dashboard_threads: the index of the dashboard's conversations

The Inbox page shows one number's SMS both ways (received from it, sent to it) in time order, a
page at a time. ``ix_inbox_account_number`` (account, number, received time, id, read flag,
alias) serves one number's SMS in order, "is there a later SMS of this number", and its unread
count and latest alias from the index alone (the alias is empty on nearly every SMS: a few bytes
each). The sent side and the account-wide walk use indexes of 0008 (benchmarks/dashboard_b.py
measures both).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_account_number",
            ["account_id", "number", "received_ms", "id", "read", "alias"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_account_number")
