"""dashboard_b: indexes of the dashboard's inbox threads

The Inbox page lists an account's numbers by their latest received SMS and shows one number's
SMS both ways (received from it, sent to it) in time order, a page at a time. Without these
indexes each of those reads every row of the account (benchmarks/dashboard_b.py measures both):

- ``ix_inbox_account_number`` (account, number, received time, id, read flag, alias): one
  number's SMS in order, "is there a later SMS of this number", and its unread count and latest
  alias from the index alone (the alias is empty on nearly every SMS: a few bytes each);
- ``ix_inbox_account_received`` (account, received time, id): the account's SMS newest first,
  the walk that finds the threads of a page (``/getsms/``, newest first too, uses it as well);
- ``ix_messages_account_recipient`` (account, recipient, created time, id): the SMS sent to
  one number in order.

Indexes only, so it can be relinked after another revision without touching anything else.

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
            "ix_inbox_account_number",
            ["account_id", "number", "received_ms", "id", "read", "alias"],
            unique=False,
        )
        batch_op.create_index(
            "ix_inbox_account_received", ["account_id", "received_ms", "id"], unique=False
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_account_recipient",
            ["account_id", "recipient", "created_ms", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_account_recipient")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_account_received")
        batch_op.drop_index("ix_inbox_account_number")
