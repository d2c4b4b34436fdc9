"""A model's last connectivity test is kept on its row, as a provider's already is
(``last_tested``, ``test_result``), so the catalog shows when each model last answered.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # additive and nullable: models written before keep every value (prices included)
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("last_tested", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("test_result", sa.JSON(), nullable=True))


def downgrade() -> None:
    # only the stored test results go: a model is tested again in one call
    with op.batch_alter_table("models") as batch:
        batch.drop_column("test_result")
        batch.drop_column("last_tested")
