"""``polyroute embed FILE``: JSONL and text corpora, .jsonl and .npy output, resuming
after a killed run, refusing to mix spaces; against the OpenAI stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from polyroute.cli import main
from polyroute.plugins import PluginRegistry
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Fault, StandinServer
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.embed_standin import OpenAIEmbedResponder

SMALL = "text-embedding-3-small"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(OpenAIEmbedResponder()) as s:
        yield s


@pytest.fixture
def config(server: StandinServer, tmp_path: Path) -> Path:
    path = tmp_path / "polyroute.yaml"
    path.write_text(yaml.safe_dump({
        "providers": {"main": {"type": "openai", "base_url": server.url + "/v1",
                               "api_key": "sk-cli-secret"}},
        "retry": {"attempts": 1},
        "embeddings": {"default": "docs", "routes": {"docs": {
            "deployments": [f"main/{SMALL}"], "dimensions": 8}}}}))
    return path


def run(config: Path, *args: str) -> Result:
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin])
    return CliRunner().invoke(main, ["embed", "-c", str(config), "--no-progress", *args],
                              obj=registry, catch_exceptions=False)


def corpus(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"document {i}"}) + "\n"
                            for i in range(n)))
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_corpus_to_jsonl(config: Path, tmp_path: Path, server: StandinServer) -> None:
    src = corpus(tmp_path, 10)
    result = run(config, str(src), "--chunk", "4")
    assert result.exit_code == 0, result.output
    out = rows(tmp_path / "docs.jsonl.embeddings.jsonl")
    assert [r["id"] for r in out] == [f"d{i}" for i in range(10)]
    assert out[3]["vector"] == fake_vector(SMALL, "document 3", 8)
    assert {r["space"] for r in out} == {f"openai/{SMALL}@8"}
    assert "10 texts" in result.stderr and "spent $0.00000" in result.stderr
    assert len(server.requests) == 3


def test_text_corpus_to_npy(config: Path, tmp_path: Path) -> None:
    src = tmp_path / "lines.txt"
    src.write_text("alpha\n\nbeta\ngamma\n")
    out = tmp_path / "v.npy"
    assert run(config, str(src), "-o", str(out)).exit_code == 0
    matrix = np.load(out)
    assert matrix.shape == (3, 8) and matrix.dtype == np.float32
    assert matrix[1].tolist() == pytest.approx(fake_vector(SMALL, "beta", 8))
    assert not (tmp_path / "v.npy.partial.jsonl").exists()


def test_an_interrupted_run_resumes_where_it_stopped(config: Path, tmp_path: Path,
                                                     server: StandinServer) -> None:
    src = corpus(tmp_path, 12)
    out = tmp_path / "docs.jsonl.embeddings.jsonl"
    first = run(config, str(src), "--chunk", "4", "--model", f"main/{SMALL}",
                "--dimensions", "8")
    assert first.exit_code == 0
    kept = out.read_text().splitlines()[:5]  # as if killed after row 4
    out.write_text("\n".join(kept) + '\n{"i": 5, "id": "d5", "vec')  # killed mid-line
    before = len(server.requests)
    again = run(config, str(src), "--chunk", "4")
    assert again.exit_code == 0, again.output
    assert [r["i"] for r in rows(out)] == list(range(12))
    assert rows(out)[11]["vector"] == fake_vector(SMALL, "document 11", 8)
    sent = [t for r in server.requests[before:] for t in r.json()["input"]]
    assert sent == [f"document {i}" for i in range(5, 12)]
    assert "5 resumed" in again.stderr


def test_a_failure_keeps_what_was_done(config: Path, tmp_path: Path,
                                       server: StandinServer) -> None:
    src = corpus(tmp_path, 8)
    out = tmp_path / "docs.jsonl.embeddings.jsonl"
    ok = run(config, str(src), "--chunk", "4")
    assert ok.exit_code == 0
    out.write_text("\n".join(out.read_text().splitlines()[:4]) + "\n")
    server.push(Fault.status(401))  # the first chunk still to do fails for good
    failed = run(config, str(src), "--chunk", "4")
    assert failed.exit_code == 1
    assert "sk-cli-secret" not in failed.output
    assert len(rows(out)) == 4  # nothing lost, nothing half-written


def test_mixing_spaces_is_refused(config: Path, tmp_path: Path) -> None:
    src = corpus(tmp_path, 6)
    out = tmp_path / "docs.jsonl.embeddings.jsonl"
    assert run(config, str(src), "--chunk", "3").exit_code == 0
    out.write_text("\n".join(out.read_text().splitlines()[:3]) + "\n")
    mixed = run(config, str(src), "--chunk", "3", "--dimensions", "16")
    assert mixed.exit_code == 1
    assert f"openai/{SMALL}@8" in mixed.output and f"openai/{SMALL}@16" in mixed.output
    assert len(rows(out)) == 3


def test_bad_input_names_the_line(config: Path, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "ok"}\n{"body": "no text"}\n')
    result = CliRunner().invoke(main, ["embed", "-c", str(config), "--no-progress", str(src)],
                                obj=PluginRegistry.create(load_entrypoints=False,
                                                          plugins=[openai_plugin]))
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output
