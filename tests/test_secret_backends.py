"""Secret backends: ``file:``, ``aws-sm:`` (against moto's server mode, an HTTP endpoint
speaking the AWS Secrets Manager API) and ``vault:`` (against a stand-in written from
Vault's HTTP API reference for KV v2: https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2),
their cache, and the rotation promise: a key rotated in the backend takes effect after
one 401, without a restart and without a failed call."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute import secret_refs
from polyroute.errors import MissingExtraError, MissingSecretError
from polyroute.secrets import Secret, redact
from polyroute.testing.routers import router_for
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.standin import OpenAIResponder

OLD = "sk-rotation-OLD-0123456789abcdef"
NEW = "sk-rotation-NEW-fedcba9876543210"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(secret_refs, "clock", clock)
    monkeypatch.delenv("POLYROUTE_SECRET_TTL", raising=False)
    secret_refs.clear_cache()
    return clock


# --- file: -------------------------------------------------------------------------------


def _secret_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "openai.key"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_file_reference_is_read_stripped_and_re_read_after_its_ttl(
    tmp_path: Path, fresh_cache: Clock,
) -> None:
    path = _secret_file(tmp_path, OLD + "\n")
    secret = Secret(f"file:{path}")
    assert secret.reveal() == OLD and secret.reference == f"file:{path}"
    assert OLD not in repr(secret)
    path.write_text(NEW)
    assert secret.reveal() == OLD  # cached
    fresh_cache.now += 31
    assert secret.reveal() == NEW


@pytest.mark.parametrize(("setup", "message"), [
    (lambda p: _secret_file(p, OLD, 0o644), "may be read by other users"),
    (lambda p: _secret_file(p, "  \n"), "is empty"),
    (lambda p: _secret_file(p, "x" * 70_000), "larger than"),
    (lambda p: p / "missing.key", "no such file"),
    (lambda p: p, r"cannot open it|not a regular file"),
])
def test_bad_secret_files_are_typed_errors_naming_the_fix(
    tmp_path: Path, setup: Any, message: str,
) -> None:
    path = setup(tmp_path)
    with pytest.raises(MissingSecretError, match=message) as info:
        Secret(f"file:{path}").reveal(what="provider 'p' api_key")
    assert info.value.fix


def test_a_symlink_planted_as_the_secret_file_is_refused(tmp_path: Path) -> None:
    real = _secret_file(tmp_path, OLD)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(MissingSecretError, match="cannot open it"):
        Secret(f"file:{link}").reveal()


def test_a_literal_with_an_unknown_scheme_stays_a_literal() -> None:
    assert Secret("plain:value-with-colon").reveal() == "plain:value-with-colon"
    assert Secret("plain:value-with-colon").reference is None
    assert Secret("sk-literal-key-123456").refresh() is False


def test_a_plugin_backend_registers_through_the_hook() -> None:
    from polyroute._markers import hookimpl
    from polyroute.plugins import PluginRegistry

    class Kms:
        scheme = "test-kms"
        ttl = 0.0
        reads: list[str] = []

        def read(self, reference: str) -> str:
            self.reads.append(reference)
            return f"sk-kms-{reference}-000000"

    class Plugin:
        @hookimpl
        def polyroute_register_secret_backends(self, register: Any) -> None:
            register(Kms())

    PluginRegistry.create(load_entrypoints=False, plugins=[Plugin()])
    assert "test-kms" in secret_refs.registered_schemes()
    assert Secret("test-kms:llm/openai").reveal() == "sk-kms-llm/openai-000000"
    with pytest.raises(Exception, match="lower-case name"):
        secret_refs.register_backend(type("Bad", (), {"scheme": "Bad Scheme", "ttl": 0,
                                                       "read": lambda s, r: ""})())


def test_a_backend_exception_is_typed_and_scrubbed() -> None:
    class Leaky:
        scheme = "leaky"
        ttl = 0.0

        def read(self, reference: str) -> str:
            raise RuntimeError(f"denied for token {OLD}")

    Secret(OLD).reveal()  # a value polyroute has seen is scrubbed wherever it shows up
    secret_refs.register_backend(Leaky())
    with pytest.raises(MissingSecretError) as info:
        Secret("leaky:x").reveal(what="provider 'p' api_key")
    assert OLD not in str(info.value) and "provider 'p' api_key" in str(info.value)
    assert "RuntimeError" in str(info.value)


def test_the_ttl_setting_is_validated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _secret_file(tmp_path, OLD)
    for bad in ("nan", "-1", "soon", "inf"):
        monkeypatch.setenv("POLYROUTE_SECRET_TTL", bad)
        with pytest.raises(MissingSecretError, match="POLYROUTE_SECRET_TTL"):
            Secret(f"file:{path}").reveal()


# --- aws-sm: against moto's server ------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed "
                                     "(pip install -e '.[dev]')")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    from polyroute.secret_backends import AwsSecretsManagerBackend

    for name, value in {"AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # a fresh backend: clients made for another endpoint are not reused
    secret_refs.register_backend(AwsSecretsManagerBackend())
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_url)
    name = f"prod/llm-{os.getpid()}-{id(client)}"
    client.create_secret(Name=name, SecretString=json.dumps({"openai": OLD, "other": "x"}))
    yield client, name
    client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_aws_secrets_manager_reads_a_field_of_a_json_secret(aws: Any) -> None:
    client, name = aws
    assert Secret(f"aws-sm:{name}#openai").reveal() == OLD
    arn = client.describe_secret(SecretId=name)["ARN"]
    assert Secret(f"aws-sm:{arn}#openai").reveal() == OLD  # an ARN (colons and all)
    with pytest.raises(MissingSecretError, match="has no field 'nope'") as info:
        Secret(f"aws-sm:{name}#nope").reveal()
    assert "openai, other" in str(info.value.fix) and OLD not in str(info.value)
    with pytest.raises(MissingSecretError, match="holds several values"):
        Secret(f"aws-sm:{name}").reveal()
    with pytest.raises(MissingSecretError, match="ResourceNotFoundException"):
        Secret("aws-sm:does/not/exist#k").reveal()


# --- vault: against a stand-in of Vault's KV v2 HTTP API -----------------------------------


class VaultStandin(ThreadingHTTPServer):
    """``GET /v1/<mount>/data/<path>`` with ``X-Vault-Token``, as Vault's API reference
    documents KV v2 reads: ``{"data": {"data": {...}, "metadata": {...}}}``; 403
    ``{"errors": ["permission denied"]}`` for a wrong token, 404 ``{"errors": []}``."""

    def __init__(self, token: str) -> None:
        self.token, self.secrets, self.reads = token, {}, 0
        self.secrets: dict[str, dict[str, Any]]
        super().__init__(("127.0.0.1", 0), _VaultHandler)


class _VaultHandler(BaseHTTPRequestHandler):
    server: VaultStandin
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between writes

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.reads += 1
        if self.headers.get("X-Vault-Token") != self.server.token:
            return self._send(403, {"errors": ["permission denied"]})
        parts = self.path.split("?")[0].removeprefix("/v1/").split("/", 2)
        if len(parts) != 3 or parts[1] != "data":
            return self._send(404, {"errors": []})
        entry = self.server.secrets.get(f"{parts[0]}/{parts[2]}")
        if entry is None:
            return self._send(404, {"errors": []})
        return self._send(200, {
            "request_id": "d1a8c6d4", "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": {"data": entry, "metadata": {
                "created_time": "2026-12-04T10:00:00.000000Z", "custom_metadata": None,
                "deletion_time": "", "destroyed": False, "version": 1}},
            "wrap_info": None, "warnings": None, "auth": None})

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> Iterator[VaultStandin]:
    pytest.importorskip("hvac", reason="hvac is not installed (pip install -e '.[dev]')")
    server = VaultStandin("hvs.test-token-0123456789")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("VAULT_TOKEN", server.token)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def test_vault_kv2_reads_a_field(vault: VaultStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.secrets["secret/llm/openai"] = {"api_key": OLD}
    assert Secret("vault:secret/llm/openai#api_key").reveal() == OLD
    assert Secret("vault:secret/llm/openai").reveal() == OLD  # one field: no need to name it
    with pytest.raises(MissingSecretError, match=r"InvalidPath|no data"):
        Secret("vault:secret/llm/missing#api_key").reveal()
    with pytest.raises(MissingSecretError, match="names no secret under a mount"):
        Secret("vault:secret#api_key").reveal()
    monkeypatch.setenv("VAULT_TOKEN", "hvs.wrong")
    secret_refs.clear_cache()
    with pytest.raises(MissingSecretError, match="Forbidden") as info:
        Secret("vault:secret/llm/openai#api_key").reveal()
    assert "hvs.test-token" not in str(info.value)
    monkeypatch.delenv("VAULT_ADDR")
    with pytest.raises(MissingSecretError, match="needs VAULT_ADDR"):
        Secret("vault:secret/llm/openai#api_key").reveal()


def test_a_missing_vendor_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from polyroute.secret_backends import VaultBackend

    monkeypatch.setitem(sys.modules, "hvac", None)  # import hvac -> ImportError
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    with pytest.raises(MissingExtraError, match=r"polyroute\[vault\]"):
        VaultBackend().read("secret/x#y")


# --- rotation: 200 calls, the key changes in the backend mid-run -------------------------------


def _config(base_url: str, key_ref: str) -> dict[str, Any]:
    return {"providers": {"main": {"type": "openai", "base_url": base_url, "api_key": key_ref}},
            "default": "main:gpt-4.1-mini", "retry": {"attempts": 1}}


def _run_rotation(key_ref: str, rotate: Any, caplog: pytest.LogCaptureFixture,
                  threads: int) -> tuple[list[str], int]:
    responder = OpenAIResponder(require_api_key=OLD)
    seen: list[str] = []
    trails: list[list[str | None]] = []
    failures: list[BaseException] = []
    caplog.set_level(logging.DEBUG)
    with StandinServer(responder) as server, \
            router_for(_config(server.url + "/v1", key_ref), openai_plugin) as router:
        lock = threading.Lock()
        counter = iter(range(200))

        def work() -> None:
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                if n == 100:  # rotate in the backend, then the provider stops taking OLD
                    rotate()
                    responder.require_api_key = NEW
                try:
                    response = router.chat(ChatRequest(messages=[Message(role="user",
                                                                         content=f"call {n}")]))
                    with lock:
                        seen.append(response.attempts[-1].error or "ok")
                        trails.append([a.error for a in response.attempts])
                except Exception as exc:  # every failure is counted, none hidden
                    failures.append(exc)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        after = [r.headers.get("authorization") for r in server.requests][-20:]
    assert not failures, failures[:3]
    # no call took more than one retry: a refusal, then the answer with the re-read key
    assert all(t in ([None], ["AuthenticationError", None]) for t in trails), trails
    refused = sum(1 for t in trails if len(t) == 2)
    assert after == [f"Bearer {NEW}"] * 20  # the last calls all use the new key
    assert OLD not in caplog.text and NEW not in caplog.text
    assert OLD not in redact(f"x {OLD} y") and NEW not in redact(f"x {NEW} y")
    return seen, refused


def test_a_key_rotated_in_aws_secrets_manager_takes_effect_after_one_401(
    aws: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    client, name = aws

    def rotate() -> None:  # the operator's write (boto3 logs its request at DEBUG: not ours)
        logging.disable(logging.DEBUG)
        try:
            client.put_secret_value(SecretId=name,
                                    SecretString=json.dumps({"openai": NEW, "other": "x"}))
        finally:
            logging.disable(logging.NOTSET)

    seen, refused = _run_rotation(f"aws-sm:{name}#openai", rotate, caplog, threads=1)
    assert len(seen) == 200 and set(seen) == {"ok"}  # 0 calls failed
    assert refused == 1  # one call met the 401, re-read the key and retried at once


def test_a_key_rotated_in_vault_takes_effect_under_concurrency(
    vault: VaultStandin, caplog: pytest.LogCaptureFixture,
) -> None:
    vault.secrets["secret/llm/openai"] = {"api_key": OLD}

    def rotate() -> None:
        vault.secrets["secret/llm/openai"] = {"api_key": NEW}

    reads_before = vault.reads
    seen, refused = _run_rotation("vault:secret/llm/openai#api_key", rotate, caplog, threads=8)
    assert len(seen) == 200 and set(seen) == {"ok"}
    assert 1 <= refused <= 8  # at most the calls in flight when the key changed
    assert vault.reads - reads_before <= 1 + 8  # the first read, then coalesced re-reads


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_any_reference_text_gives_a_value_or_a_typed_error(text: str) -> None:
    """Whatever a config holds, reading it is a value or a ``MissingSecretError``;
    never a traceback from inside a backend (vault/aws need their servers: not here)."""
    from polyroute.secret_backends.common import field_of, split_field

    # only references: revealing a literal remembers it as a secret for the whole process,
    # and random remembered text would then be scrubbed out of every later log and cassette
    with contextlib.suppress(MissingSecretError):
        Secret(f"file:{text}").reveal()
    name, field = split_field(text)
    assert (name + "#" + field if field is not None else name) == text
    for document in (text, {"a": text}, {"a": text, "b": "x"}):
        with contextlib.suppress(MissingSecretError):
            field_of(document, field, where="test")
