"""dispatch engine: message expiry, pacing and health of devices, routing policy, opt-outs,
idempotency keys

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "routing_policy",
                sa.String(length=16),
                nullable=False,
                server_default="round_robin",
            )
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_ms", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_messages_expiry", ["state", "expires_ms"], unique=False)
        batch_op.create_index(
            "ix_messages_device_dispatched", ["device_id", "dispatched_ms"], unique=False
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rate_per_hour", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("daily_cap", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reported_rate_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reported_rate_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("charging", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("online_since_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("offline_since_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "opt_outs",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_opt_outs_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("account_id", "number", name="uq_opt_outs_account_number"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_idempotency_keys_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("account_id", "key", name="uq_idempotency_keys_account_key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_created", ["created_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created")
    op.drop_table("idempotency_keys")
    op.drop_table("opt_outs")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        for column in (
            "offline_since_ms",
            "online_since_ms",
            "charging",
            "reported_rate_seconds",
            "reported_rate_count",
            "daily_cap",
            "rate_per_hour",
            "rate_per_minute",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_device_dispatched")
        batch_op.drop_index("ix_messages_expiry")
        batch_op.drop_column("expires_ms")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("routing_policy")
