"""The admin REST API (FastAPI), part of ``polyroute[admin]``: ``create_app()`` and
``polyroute serve``. Nothing outside ``polyroute.admin.api`` and the ``serve``
command imports FastAPI."""

from __future__ import annotations

from polyroute.admin.api.app import PREFIX, create_app
from polyroute.admin.api.settings import AdminSettings

__all__ = ["PREFIX", "AdminSettings", "create_app"]
