"""``ResponseCache``: diskcache holding JSON text only, in an owner-only folder.

diskcache pickles any value that is not a plain str/bytes/number, and unpickles
whatever its SQLite file says is pickled — so anyone who can write to the cache
folder can run code in the reading process (CVE-2025-69872). Here:

- values are JSON text (``str``); ``_JSONDisk.store`` refuses anything else;
- ``_JSONDisk.fetch`` refuses pickled rows (and file names that leave the folder):
  the read is a miss, the row is deleted and a warning logged;
- keys are sha256 hex strings;
- every answer is stored inside the SQLite file: diskcache's separate value files
  (for values over 32 KiB) are switched off, since it creates them with the
  process umask (0644 in 0755 folders);
- a file name read from a row is never followed out of the folder: ``fetch``
  refuses it and ``remove`` (expiry, eviction, ``clear``) leaves it alone, so a
  planted row naming ``../victim`` or an absolute path deletes nothing;
- the folder is created ``0o700``; an existing folder must belong to this user
  (a looser mode is tightened, another owner is refused); everything in it
  (files of older versions included) is made owner-only, ``0o600``/``0o700``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import MODE_PICKLE, MODE_RAW, MODE_TEXT, UNKNOWN

from polyroute.errors import ConfigError
from polyroute.logs import get_logger

__all__ = ["PickledEntryError", "ResponseCache", "owner_only_dir"]

logger = get_logger("cache")
_NO_VALUE_FILES = 2**62  # diskcache's disk_min_file_size: every value stays in SQLite


class PickledEntryError(Exception):
    """A cache row holds a pickle (or points outside the folder): refused, never loaded."""


class _JSONDisk(diskcache.Disk):  # type: ignore[misc]
    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError("polyroute cache keys are sha256 hex strings")
        return super().put(key)  # type: ignore[no-any-return]

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise PickledEntryError("pickled cache key")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> Any:
        if type(value) is not str or read:
            raise TypeError("polyroute caches JSON text only, never pickles")
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_PICKLE or mode not in (MODE_RAW, MODE_TEXT):
            raise PickledEntryError(f"cache row in mode {mode} (polyroute writes JSON text)")
        if filename is not None and not self._inside(filename):
            raise PickledEntryError(f"cache row points outside the cache folder: {filename!r}")
        return super().fetch(mode, filename, value, read)

    def remove(self, file_path: str) -> None:
        if not self._inside(file_path):
            logger.warning("cache row names a file outside the cache folder (%r): not "
                           "deleted; the row goes", file_path)
            return
        super().remove(file_path)

    def _inside(self, filename: Any) -> bool:
        """``filename`` is a relative name that resolves (symlinks followed) inside the
        folder — never ``..``, an absolute path or a link pointing out."""
        if type(filename) is not str or not filename or os.path.isabs(filename):
            return False
        if ".." in Path(filename).parts:
            return False
        root = os.path.realpath(self._directory)
        return os.path.realpath(os.path.join(root, filename)).startswith(root + os.sep)


def owner_only_dir(path: Path) -> Path:
    """Create ``path`` as ``0o700`` or check an existing one belongs to this user."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "posix":
        return path
    st = path.stat()
    if st.st_uid != os.getuid():
        raise ConfigError(
            f"cache folder {path} belongs to another user (uid {st.st_uid}): refusing to "
            "read it (a writable cache folder lets its owner run code in this process)",
            field="cache.directory", fix="use a folder of your own",
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
        logger.warning("cache folder %s was open to other users: now owner-only (0700)", path)
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _owner_only_tree(root: Path) -> None:
    """Tighten everything under ``root`` to owner-only; symlinks are not followed."""
    if os.name != "posix":
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or not stat.S_IMODE(st.st_mode) & 0o077:
                continue
            os.chmod(path, 0o700 if stat.S_ISDIR(st.st_mode) else 0o600)


class ResponseCache:
    """JSON-text entries under sha256 keys, with TTL; tagged by namespace for ``clear``."""

    def __init__(self, directory: str | os.PathLike[str], *, size_limit_mb: int = 1024) -> None:
        self.directory = owner_only_dir(Path(directory))
        db = self.directory / diskcache.core.DBNAME
        # Created owner-only before SQLite makes it (with the umask); its -wal and -shm
        # files take the database file's mode.
        try:
            os.close(os.open(db, os.O_CREAT | os.O_WRONLY | _NOFOLLOW, 0o600))
        except OSError as exc:
            raise ConfigError(
                f"cannot open the cache database {db} ({exc.strerror or exc}): a symlink is "
                "refused, the file must be a plain file of this user",
                field="cache.directory", fix="remove it, or point cache.directory elsewhere",
            ) from exc
        self._cache = diskcache.Cache(
            str(self.directory), disk=_JSONDisk, size_limit=size_limit_mb * 2**20,
            eviction_policy="least-recently-stored", statistics=False, tag_index=True,
            disk_min_file_size=_NO_VALUE_FILES,
        )
        _owner_only_tree(self.directory)
        self.refused = 0

    def get(self, key: str) -> str | None:
        try:
            value = self._cache.get(key, default=None, retry=True)
        except PickledEntryError as exc:
            self.refused += 1
            logger.warning("refused cache entry %s… (%s); deleted it", key[:12], exc)
            self._drop(key)
            return None
        if value is None:
            return None
        if type(value) is not str:
            self.refused += 1
            self._drop(key)
            return None
        return value

    def _drop(self, key: str) -> None:
        try:
            with self._cache.transact(retry=True):
                self._cache._sql("DELETE FROM Cache WHERE key = ?", (key,))
        except Exception as exc:
            logger.warning("could not delete refused cache entry: %s", exc)

    def set(self, key: str, value: str, ttl: float | None, tag: str | None = None) -> None:
        self._cache.set(key, value, expire=ttl, tag=tag, retry=True)

    def delete(self, key: str) -> None:
        self._cache.delete(key, retry=True)

    def clear(self, tag: str | None = None) -> int:
        """Remove every entry (or those of one namespace); returns how many."""
        if tag is None:
            return int(self._cache.clear(retry=True))
        return int(self._cache.evict(tag, retry=True))

    def stats(self) -> dict[str, Any]:
        expired = self._cache.expire(retry=True)
        return {
            "directory": str(self.directory),
            "entries": len(self._cache),
            "size_bytes": int(self._cache.volume()),
            "expired_removed": expired,
            "size_limit_bytes": int(self._cache.size_limit),
        }

    def namespaces(self) -> dict[str, int]:
        rows = self._cache._sql("SELECT tag, COUNT(*) FROM Cache GROUP BY tag").fetchall()
        return {str(tag): int(n) for tag, n in rows}

    def purge_stored_before(self, cutoff: float) -> int:
        """Delete entries stored before ``cutoff`` (epoch seconds), whatever their TTL:
        retention (``cache.retention_days``). Returns how many."""
        keys = [k for (k,) in self._cache._sql(
            "SELECT key FROM Cache WHERE store_time < ?", (cutoff,)).fetchall()]
        # through diskcache's own delete: it keeps its entry count and size in step
        return sum(bool(self._cache.delete(key, retry=True)) for key in keys)

    def close(self) -> None:
        self._cache.close()
