"""Redis URLs as people deploy them: one server, TLS, Sentinel, Cluster; the client
type each picks; hash-tagged keys (one budget's keys in one Cluster slot)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyroute.errors import ConfigError, StateStoreError
from polyroute.state.redis_urls import hash_tagged, masked_url, parse_redis_url, sync_client

redis = pytest.importorskip("redis")
from redis.cluster import key_slot  # noqa: E402 - after the importorskip


def test_one_server_and_tls_urls_go_to_redis_py_from_url() -> None:
    t = parse_redis_url("rediss://:pw@cache.internal:6380/2?ssl_cert_reqs=none")
    assert (t.kind, t.tls) == ("single", True)
    client = sync_client(t, 1.0)
    kwargs = client.connection_pool.connection_kwargs
    assert type(client) is redis.Redis
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6380, 2)
    client.close()
    assert parse_redis_url("unix:///run/redis.sock?db=1").kind == "single"


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    t = parse_redis_url("redis+sentinel://app:s3cret@s1:26379,s2,[::1]:26380/mymaster/3"
                        "?sentinel_password=sp")
    assert (t.kind, t.tls, t.service, t.db) == ("sentinel", False, "mymaster", 3)
    assert t.hosts == (("s1", 26379), ("s2", 26379), ("::1", 26380))
    assert (t.username, t.password, t.sentinel_password) == ("app", "s3cret", "sp")
    client = sync_client(t, 1.0)  # no connection until the first command
    from redis.sentinel import SentinelConnectionPool

    assert isinstance(client.connection_pool, SentinelConnectionPool)
    assert client.connection_pool.service_name == "mymaster"
    assert "s3cret" not in repr(t) and "=sp" not in repr(t)
    tls = parse_redis_url("rediss+sentinel://s1/mymaster?ssl_ca_certs=/etc/ca.pem")
    assert tls.tls and tls.ssl == {"ssl_ca_certs": "/etc/ca.pem"}


def test_a_cluster_url_lists_its_startup_nodes() -> None:
    t = parse_redis_url("rediss+cluster://:pw@n1:7000,n2:7001,n3")
    assert (t.kind, t.tls) == ("cluster", True)
    assert t.hosts == (("n1", 7000), ("n2", 7001), ("n3", 6379))


@pytest.mark.parametrize(("url", "said"), [
    ("http://host:6379", "not a Redis URL"),
    ("redis+sentinel://s1:26379", "no master name"),
    ("redis+sentinel://s1:notaport/m", "not a number"),
    ("redis+sentinel://s1:99999/m", "out of range"),
    ("redis+sentinel://s1/m/x", "not a number"),
    ("redis+cluster://n1:7000/3", "only database 0"),
    ("redis+cluster://n1?ssl_ca_certs=/ca.pem", "TLS options on a plain connection"),
    ("redis+cluster://n1?bogus=1", "unknown option"),
    ("redis+cluster://:pw@,n2", "empty"),
])
def test_a_bad_url_is_a_config_error_naming_the_field_without_the_password(
        url: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said) as err:
        parse_redis_url(url.replace("://", "://:hunter2@") if "@" not in url else url)
    assert "state.url" in str(err.value) and "hunter2" not in str(err.value)


@given(st.text(max_size=40))
def test_any_url_text_parses_or_is_a_config_error(text: str) -> None:
    for url in (text, "redis+sentinel://" + text, "redis+cluster://" + text):
        with contextlib.suppress(ConfigError):
            parse_redis_url(url)
        masked_url(url)  # never raises


def test_masked_url_hides_the_password_of_multi_host_urls() -> None:
    assert (masked_url("redis+sentinel://u:p@ss@s1:26379,s2/m")
            == "redis+sentinel://u:***@s1:26379,s2/m")
    assert masked_url("redis://h:6379/0") == "redis://h:6379/0"


def test_one_budgets_keys_and_one_deployments_keys_share_a_cluster_slot() -> None:
    def slot(key: str) -> int:
        return int(key_slot(("polyroute:" + hash_tagged(key)).encode()))

    budget = "budget:global:day:2026-12-04"
    assert slot(budget) == slot(budget + ":spent")
    dep = "cb:ollama/llama3.1:8b"  # a model name with a colon in it
    assert {slot(k) for k in (dep, dep + ":f", dep + ":w123:n", dep + ":w122:f")} == {slot(dep)}
    rl = "rl:openai/gpt-4.1:req"
    assert slot(rl + ":t0") == slot(rl + ":c") == slot("rl:openai/gpt-4.1:adapt")
    assert hash_tagged("cb:a{b}:f") == "{cb:a(b)}:f"  # a brace in a name cannot split a tag
    assert slot("cb:openai/gpt-4.1") != slot("cb:anthropic/claude")  # spread over slots


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def one_node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Redis Cluster of one node holding every slot (redis-server from the
    machine; skipped without it)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("no redis-server binary to start a one-node cluster")
    d = Path(tmp_path_factory.mktemp("cluster"))
    log = d / "redis.log"
    for _attempt in range(3):  # a port taken between choosing it and binding: another one
        port = _free_port()
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1",
                                 "--cluster-enabled", "yes", "--cluster-config-file",
                                 str(d / f"nodes-{port}.conf"), "--dir", str(d), "--save", "",
                                 "--appendonly", "no", "--logfile", str(log)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        admin = redis.Redis(port=port)
        deadline = time.monotonic() + 60  # a loaded machine starts redis-server slowly
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                admin.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        tail = log.read_text(errors="replace")[-600:] if log.exists() else "(no log)"
        raise RuntimeError(f"redis-server --cluster-enabled did not start: {tail}")
    try:
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        for _ in range(200):
            if admin.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") >= 0:
                break
            time.sleep(0.05)
        admin.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_store_works_on_a_real_cluster_with_tagged_keys(one_node_cluster: int) -> None:
    from polyroute.state.redis import RedisStore

    store = RedisStore(f"redis+cluster://127.0.0.1:{one_node_cluster}")
    assert type(store._redis).__name__ == "RedisCluster" and store.hash_tags
    assert store.reserve("budget:global:day", 0.4, limit=1.0)
    assert store.incr("budget:global:day:spent", 0.4) == 0.4
    assert store.cas("cb:p/m", None, {"until": 1.0, "n": 0, "why": "t"})
    raw = redis.Redis(port=one_node_cluster)
    assert raw.exists("polyroute:{budget:global}:day", "polyroute:{budget:global}:day:spent") == 2
    raw.close()
    store.close()


async def test_the_async_face_works_on_a_real_cluster(one_node_cluster: int) -> None:
    from polyroute.state.redis import RedisStore

    store = RedisStore(f"redis+cluster://127.0.0.1:{one_node_cluster}", prefix="async:")
    assert await store.areserve("budget:global:day", 0.4, limit=1.0)
    assert await store.aget("budget:global:day") == 0.4
    assert await store.acas("cb:p/m", None, {"until": 1.0, "n": 0, "why": "t"})
    await store.aclose()


def test_a_dead_cluster_is_a_typed_error_without_the_password() -> None:
    from polyroute.state.redis import RedisStore

    with pytest.raises(StateStoreError, match="connect failed") as err:
        RedisStore(f"redis+cluster://:hunter2@127.0.0.1:{_free_port()}", timeout=0.5)
    assert "hunter2" not in str(err.value) and ":***@" in str(err.value)
