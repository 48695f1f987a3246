"""account region: where an account's numbers without + are read, and when its settings changed

``region`` is empty for every existing account, which keeps the server's
``SIMGATE_DEFAULT_REGION``. ``changed_ms`` is what other processes watch to learn that an
operator changed an account's settings (region, routing policy) from the shell.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("changed_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("changed_ms")
        batch_op.drop_column("region")
