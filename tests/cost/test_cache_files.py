"""The cache folder on disk: owner-only modes for everything in it, and no file name
read from a row is followed out of the folder (read, expiry, eviction, clear)."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from diskcache.core import MODE_TEXT

from polyroute.cache import ResponseCache
from polyroute.cli import main
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints


def make_router(registry: PluginRegistry, url: str, cache_dir: Path) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m"}},
        "cache": {"directory": str(cache_dir)},
    }, registry=registry)


def ask(text: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def loose(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that others may read or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            found.append(f"{path.relative_to(root)} {stat.S_IMODE(st.st_mode):o}")
    return found


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask022", "umask000"])
def test_a_large_answer_is_stored_owner_only(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path, umask: int
) -> None:
    big = "x" * 100_000  # over diskcache's 32 KiB file threshold
    old = os.umask(umask)
    try:
        with make_router(echo_registry, primary.url, tmp_path / "cache") as router:
            first = router.chat(ask(big))
            again = router.chat(ask(big))
    finally:
        os.umask(old)
    assert again.cache_hit and again.message.text == first.message.text
    assert len(again.message.text or "") > 100_000
    assert loose(tmp_path / "cache") == []


def test_files_left_loose_by_an_older_version_are_tightened(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    ResponseCache(root).close()
    sub = root / "ab" / "cd"
    sub.mkdir(parents=True)
    (sub / "old.val").write_text("{}")
    for p in (root / "ab", sub):
        os.chmod(p, 0o755)
    os.chmod(sub / "old.val", 0o644)
    os.chmod(root / "cache.db", 0o644)
    ResponseCache(root).close()
    assert loose(root) == []


def plant(root: Path, filename: str, *, expired: bool, key: str = "e" * 64) -> None:
    """A row an attacker (or a corrupted file) put in the cache's SQLite table."""
    conn = sqlite3.connect(root / "cache.db")
    with conn:
        conn.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, tag, size, "
            "mode, filename, value) VALUES (?, 1, 0, ?, 0, 'default', 10, ?, ?, NULL)",
            (key, 1.0 if expired else time.time() + 3600, MODE_TEXT, filename))
    conn.close()


@pytest.fixture
def victims(tmp_path: Path) -> list[Path]:
    """Files outside the cache folder that rows will name."""
    out = []
    for name in ("victim.txt", "abs-victim.txt", "linked-victim.txt"):
        p = tmp_path / name
        p.write_text("not the cache's to delete")
        out.append(p)
    return out


def hostile_rows(root: Path, victims: list[Path], *, expired: bool) -> None:
    ResponseCache(root).close()
    (root / "zz").mkdir(mode=0o700)
    (root / "zz" / "link.val").symlink_to(victims[2])
    plant(root, "../victim.txt", expired=expired, key="1" * 64)
    plant(root, str(victims[1]), expired=expired, key="2" * 64)
    plant(root, "zz/link.val", expired=expired, key="3" * 64)


def untouched(victims: list[Path]) -> bool:
    return all(v.read_text() == "not the cache's to delete" for v in victims)


def test_a_row_naming_a_file_outside_is_never_read(tmp_path: Path, victims: list[Path]) -> None:
    root = tmp_path / "cache"
    hostile_rows(root, victims, expired=False)
    store = ResponseCache(root)
    try:
        for key in ("1" * 64, "2" * 64, "3" * 64):
            assert store.get(key) is None
        assert store.refused == 3
    finally:
        store.close()
    assert untouched(victims)


def test_an_expired_hostile_row_deletes_nothing_on_the_next_miss(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    victims: list[Path],
) -> None:
    root = tmp_path / "cache"
    hostile_rows(root, victims, expired=True)
    with make_router(echo_registry, primary.url, root) as router:
        for i in range(12):  # misses that store: diskcache culls expired rows on set
            router.chat(ask(f"miss {i}"))
    assert untouched(victims)


@pytest.mark.parametrize("command", [["stats"], ["clear", "-y"]])
def test_cache_stats_and_clear_delete_nothing_outside(
    tmp_path: Path, victims: list[Path], command: list[str]
) -> None:
    root = tmp_path / "cache"
    hostile_rows(root, victims, expired=True)
    result = CliRunner().invoke(main, ["cache", *command, "--dir", str(root)])
    assert result.exit_code == 0, result.output
    assert untouched(victims)
    assert (root / "zz" / "link.val").is_symlink() or not (root / "zz").exists()


def test_a_symlinked_cache_database_is_refused(tmp_path: Path, victims: list[Path]) -> None:
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    (root / "cache.db").symlink_to(victims[0])
    with pytest.raises(ConfigError) as err:
        ResponseCache(root)
    assert err.value.field == "cache.directory" and "symlink" in str(err.value)
    assert untouched(victims)
