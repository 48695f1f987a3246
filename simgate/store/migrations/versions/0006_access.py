"""access: API keys' last use, OAuth2 clients and their access tokens

Existing API key rows keep working unchanged: they already hold a SHA-256 digest and a visible
prefix; the new ``last_used_ms`` starts empty. Self-contained (new tables and one new column),
so it can be relinked after another revision without touching anything else.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "oauth_clients",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("secret_prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_used_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_oauth_clients_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_clients_account", ["account_id"], unique=False)
    op.create_table(
        "oauth_tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("client_ref", Id, nullable=False),
        sa.Column("account_id", Id, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_oauth_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_ref"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_tokens_client_ref_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_oauth_tokens_digest")),
    )
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_tokens_expires", ["expires_ms"], unique=False)
        batch_op.create_index("ix_oauth_tokens_client", ["client_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_tokens_client")
        batch_op.drop_index("ix_oauth_tokens_expires")
    op.drop_table("oauth_tokens")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_clients_account")
    op.drop_table("oauth_clients")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_ms")
