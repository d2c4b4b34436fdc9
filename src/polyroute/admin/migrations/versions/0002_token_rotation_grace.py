"""API token rotation with a grace window: the previous secret's hash and when it stops
working, so a token keeps its id while its secret changes; the last rotation's
Idempotency-Key and its secret (encrypted) so a retried request gets the same answer;
and pending_changes, critical changes waiting for a second admin.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')",
                           name=op.f("ck_pending_changes_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_changes")),
    )
    # additive and nullable: rows written by 0001 stay valid as they are
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("previous_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("previous_expires_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rotation_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("rotation_secret", sa.LargeBinary(), nullable=True))
        batch.create_unique_constraint("uq_api_tokens_previous_hash", ["previous_hash"])


def downgrade() -> None:
    op.drop_table("pending_changes")
    # tokens keep their current secret; only old secrets still in their grace window stop
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("uq_api_tokens_previous_hash", type_="unique")
        batch.drop_column("rotation_secret")
        batch.drop_column("rotation_key")
        batch.drop_column("rotated_at")
        batch.drop_column("previous_expires_at")
        batch.drop_column("previous_hash")
