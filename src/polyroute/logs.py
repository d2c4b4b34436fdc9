"""Named loggers that scrub secrets from every record they emit."""

from __future__ import annotations

import logging

from polyroute.secrets import RedactingFilter

__all__ = ["get_logger"]

_FILTER = RedactingFilter()
# A library never prints on its own: the application configures handlers.
logging.getLogger("polyroute").addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """``polyroute.<name>``, with the redacting filter attached once."""
    logger = logging.getLogger(f"polyroute.{name}")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
