"""Alembic environment: runs on the engine ``polyroute.admin.db`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from polyroute.admin.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only via polyroute.admin.db
    raise RuntimeError("run migrations through polyroute.admin.db.upgrade_to_head(url)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
