"""The portable parameters have one definition (``polyroute.types.PortableParams``):
the neutral request, the config's agents and routes and both framework adapters take
exactly the parameters it lists, and a new one is a change to that class alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

import polyroute
from polyroute.config import AgentConfig, RouteConfig, config_from_data
from polyroute.errors import ConfigError
from polyroute.langchain import RoutedChatModel
from polyroute.llamaindex import RoutedLLM
from polyroute.params import PARAMS
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    PortableParams,
)

CONSUMERS = [GenerationParams, AgentConfig, RouteConfig, RoutedChatModel, RoutedLLM]


def sample(name: str) -> Any:
    """A valid value for portable parameter ``name``, from its declared type."""
    annotation = str(PortableParams.model_fields[name].annotation)
    if "list" in annotation:
        return ["END"]
    return 0.5 if "float" in annotation else 3


SAMPLES = {name: sample(name) for name in PARAMS}


class StubRouter:
    """Records the requests an adapter builds; answers "ok"."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return ChatResponse(message=Message.assistant("ok"), finish_reason="stop")

    async def achat(self, request: ChatRequest) -> ChatResponse:
        return self.chat(request)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        self.requests.append(request)
        yield ChatChunk(text="ok", finish_reason="stop")

    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        yield ChatChunk(text="ok", finish_reason="stop")


def portable(params: GenerationParams) -> dict[str, Any]:
    return params.model_dump(exclude_none=True, exclude={"extra"})


def test_params_lists_the_one_definition_in_order() -> None:
    assert tuple(PortableParams.model_fields) == PARAMS
    assert PARAMS == ("temperature", "top_p", "top_k", "max_tokens", "stop",
                      "frequency_penalty", "presence_penalty", "seed")


@pytest.mark.parametrize("cls", CONSUMERS, ids=lambda c: c.__name__)
def test_every_consumer_inherits_the_definition(cls: type[Any]) -> None:
    """Inherited, not spelled again: same type, bounds and description as the table."""
    assert issubclass(cls, PortableParams)
    fields = cls.model_fields
    assert [n for n in fields if n in PortableParams.model_fields] == list(PARAMS)
    for name in PARAMS:
        mine, table = fields[name], PortableParams.model_fields[name]
        assert (mine.annotation, mine.metadata, mine.description, mine.default) == (
            table.annotation, table.metadata, table.description, table.default), name


def test_the_config_takes_exactly_the_listed_parameters() -> None:
    cfg = config_from_data({
        "agents": {"a": {"model": "openai:gpt-4.1-mini", **SAMPLES}},
        "routes": {"r": {"tiers": [["openai:gpt-4.1-mini"]], **SAMPLES}},
    })
    assert portable(cfg.agents["a"].generation_params()) == SAMPLES
    assert portable(cfg.routes["r"].generation_params()) == SAMPLES
    with pytest.raises(ConfigError, match="ninth"):
        config_from_data({"agents": {"a": {"model": "openai:gpt-4.1-mini", "ninth": 1}}})


@pytest.mark.parametrize(("name", "bad"), [("temperature", -0.1), ("top_p", 1.5),
                                           ("top_k", 0), ("max_tokens", 0)])
def test_the_bounds_hold_everywhere(name: str, bad: Any) -> None:
    with pytest.raises(ConfigError, match=name):
        config_from_data({"agents": {"a": {"model": "openai:gpt-4.1-mini", name: bad}}})
    for cls in (GenerationParams, RoutedChatModel, RoutedLLM):
        with pytest.raises(ValueError, match=name):
            cls(**{name: bad})


def test_langchain_takes_each_parameter_as_a_field_and_per_call() -> None:
    router = StubRouter()
    RoutedChatModel(router=router, **SAMPLES).invoke("hi")
    RoutedChatModel(router=router).invoke("hi", **SAMPLES, ninth=1)
    defaults, per_call = router.requests
    assert portable(defaults.params) == SAMPLES and defaults.params.extra == {}
    assert portable(per_call.params) == SAMPLES
    assert per_call.params.extra == {"ninth": 1}  # not a portable parameter: passed through
    assert "ninth" not in RoutedChatModel.model_fields


def test_llamaindex_takes_each_parameter_as_a_field_and_per_call() -> None:
    router = StubRouter()
    hi = [ChatMessage(role="user", content="hi")]
    RoutedLLM(router=router, **SAMPLES).chat(hi)
    RoutedLLM(router=router).chat(hi, **SAMPLES, ninth=1)
    defaults, per_call = router.requests
    assert portable(defaults.params) == SAMPLES and defaults.params.extra == {}
    assert portable(per_call.params) == SAMPLES
    assert per_call.params.extra == {"ninth": 1}
    assert "ninth" not in RoutedLLM.model_fields


NINTH = '''
    ninth: int | None = Field(
        None, ge=0, description="A ninth portable parameter, for this test.")
'''

CHECK_NINTH = textwrap.dedent('''
    from llama_index.core.base.llms.types import ChatMessage

    from polyroute.config import config_from_data
    from polyroute.errors import ConfigError
    from polyroute.langchain import RoutedChatModel
    from polyroute.llamaindex import RoutedLLM
    from polyroute.params import PARAMS
    from polyroute.types import ChatResponse, Message

    class Stub:
        def __init__(self): self.requests = []
        def chat(self, r):
            self.requests.append(r)
            return ChatResponse(message=Message.assistant("ok"))
        async def achat(self, r): return self.chat(r)
        def stream(self, r): yield from ()
        async def astream(self, r):
            if False: yield None

    assert PARAMS[-1] == "ninth", PARAMS
    cfg = config_from_data({"agents": {"a": {"model": "openai:gpt-4.1-mini", "ninth": 4}}})
    assert cfg.agents["a"].generation_params().ninth == 4
    try:
        config_from_data({"agents": {"a": {"model": "openai:gpt-4.1-mini", "ninth": -1}}})
        raise SystemExit("the bound did not hold")
    except ConfigError:
        pass
    stub = Stub()
    RoutedChatModel(router=stub, ninth=5).invoke("hi")
    RoutedChatModel(router=stub).invoke("hi", ninth=6)
    RoutedLLM(router=stub, ninth=7).chat([ChatMessage(role="user", content="hi")])
    RoutedLLM(router=stub).chat([ChatMessage(role="user", content="hi")], ninth=8)
    assert [r.params.ninth for r in stub.requests] == [5, 6, 7, 8]
    assert all(r.params.extra == {} for r in stub.requests)
    import polyroute
    print("ninth parameter reaches every consumer of", polyroute.__file__)
''')


def test_a_ninth_parameter_is_one_change(tmp_path: Path) -> None:
    """Copy the package, add one field to ``PortableParams`` and nothing else: the config,
    ``PARAMS`` and both adapters take it, with its bound."""
    package = Path(polyroute.__file__).parent
    copy = tmp_path / "polyroute"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    types_py = copy / "types.py"
    source = types_py.read_text()
    anchor = "\n\nclass GenerationParams(PortableParams, _Model):"
    assert anchor in source
    types_py.write_text(source.replace(anchor, NINTH + anchor, 1))
    result = subprocess.run(
        [sys.executable, "-c", CHECK_NINTH], capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"ninth parameter reaches every consumer of {copy}" in result.stdout
