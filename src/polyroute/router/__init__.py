"""The router: composes the plan, the guards and the transport (``core``), and
the streaming half under the streaming failure policy (``streaming``)."""

from polyroute.router.core import Router

__all__ = ["Router"]
