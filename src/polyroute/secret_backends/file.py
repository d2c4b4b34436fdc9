"""``file:PATH``: a secret in a file only its owner may read (a Docker or Kubernetes
secret mount, a systemd credential). Re-read after the TTL, so a rotated mount is
picked up; a file others may read is refused rather than trusted."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from polyroute.errors import MissingSecretError
from polyroute.secret_backends.common import ttl

__all__ = ["FileBackend"]

MAX_BYTES = 64 * 1024


class FileBackend:
    scheme = "file"

    @property
    def ttl(self) -> float:
        return ttl(30.0)

    def read(self, reference: str) -> str:
        path = Path(os.path.expanduser(reference))
        where = f"file:{reference}"
        try:
            # no following a symlink planted where the secret should be; a mount's
            # own ..data link (Kubernetes) is a directory link above the file, allowed
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise MissingSecretError(f"{where}: no such file", fix="create it (mode 600)") from None
        except OSError as exc:
            raise MissingSecretError(f"{where}: cannot open it ({exc.strerror})",
                                     fix="make it a regular file this user may read, "
                                         "mode 600") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise MissingSecretError(f"{where} is not a regular file",
                                     fix="point at the file that holds the key")
        with os.fdopen(fd, "rb") as handle:
            if info.st_mode & 0o077 and not _kubernetes_mount(path):
                raise MissingSecretError(
                    f"{where} may be read by other users (mode {info.st_mode & 0o777:o})",
                    fix=f"chmod 600 {reference}")
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise MissingSecretError(f"{where} is larger than {MAX_BYTES} bytes",
                                     fix="a secret file holds one key")
        text = data.decode("utf-8", errors="strict").strip()
        if not text:
            raise MissingSecretError(f"{where} is empty", fix="write the key into it")
        return text


def _kubernetes_mount(path: Path) -> bool:
    """Kubernetes projects secrets 0644 by default inside a pod-private mount
    (``defaultMode``); the ``..data`` link beside the file is its signature."""
    return (path.parent / "..data").is_dir()
