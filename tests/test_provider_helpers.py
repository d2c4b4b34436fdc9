"""The provider helpers plugins share (issue 10): error tables, JSON-API plumbing,
OpenAI-compatible parsing, request parts, JSON event streams and the model index.
Each plugin's own tests prove its wire behaviour; these pin what a plugin author
relies on when building a new provider from the helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers import json_api
from polyroute.providers.base import (
    HttpRequest,
    HttpResponse,
    Provider,
    ProviderSettings,
    StreamEvent,
)
from polyroute.providers.bodies import finish_from, token_count, usage_with_cache
from polyroute.providers.errors_table import (
    class_from_table,
    error_json,
    fallback_message,
    provider_error,
    retry_after_for,
    with_body_snippet,
)
from polyroute.providers.json_api import (
    answered,
    bearer_headers,
    get_request,
    json_body,
    model_items,
    model_names,
    post_json,
)
from polyroute.providers.models import index_models
from polyroute.providers.openai_compat import (
    ChatCompletionsStreamParser,
    chat_usage,
    first_choice,
    tool_arguments,
    tool_call_parts,
)
from polyroute.providers.request_parts import (
    function_tool,
    image_data,
    image_url,
    put_present,
    sniff_image,
    split_tool_results,
    text_or_parts,
)
from polyroute.providers.streams import JsonEventParser
from polyroute.testing.streams import parse_stream
from polyroute.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ModelInfo,
    TextPart,
    ToolResultPart,
    Usage,
)

KEY = "sk-" + "a1b2c3d4e5f6g7h8i9j0k1l2"

# --- errors_table -----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"<html>502 Bad Gateway</html>", b"[" * 100_000,
                                  b"\xff\xfe not utf-8"])
def test_an_unreadable_error_body_reads_as_none(body: bytes) -> None:
    assert error_json(body) is None


def test_the_fallback_message_says_status_and_body() -> None:
    assert fallback_message(b"  upstream died \n", 502) == "HTTP 502: upstream died"
    assert fallback_message(b"", 503) == "HTTP 503 with empty body"
    assert fallback_message(b"junk", None) == "malformed stream error event: junk"
    assert fallback_message(b"a \n\n b", 500, collapse=True) == "HTTP 500: a b"


def test_a_type_outside_the_table_is_classified_by_status() -> None:
    table: Mapping[str, type[ProviderError]] = {"quota": RateLimitError}
    assert class_from_table(table, "quota", 400) is RateLimitError
    assert class_from_table(table, "unknown", 401) is AuthenticationError
    assert class_from_table(table, None, 500) is ServerError
    assert class_from_table(table, "unknown", None) is StreamInterruptedError


def test_only_retryable_responses_carry_a_wait() -> None:
    headers = {"retry-after": "3"}
    assert retry_after_for(RateLimitError, headers, 429) == 3.0
    assert retry_after_for(ServerError, headers, 500) == 3.0
    assert retry_after_for(BadRequestError, headers, 400) is None
    assert retry_after_for(RateLimitError, headers, None) is None  # an in-band event
    assert retry_after_for(RateLimitError, headers, 429, read=lambda h: 7.0) == 7.0


def test_an_error_message_never_shows_the_key_it_echoes() -> None:
    err = provider_error(AuthenticationError, f"Incorrect API key provided: {KEY}",
                         provider="p", model="m", status=401, request_id="req-1",
                         error_type="invalid_api_key")
    assert KEY not in str(err) and KEY not in repr(err)
    assert (err.status, err.request_id, err.error_type) == (401, "req-1", "invalid_api_key")


def test_a_non_json_error_body_is_quoted_short_and_redacted() -> None:
    err = with_body_snippet(ServerError("HTTP 502", status=502),
                            b"<html>bad gateway " + KEY.encode() + b" " + b"x" * 500)
    assert err.reason.startswith("HTTP 502 (<html>bad gateway")
    assert KEY not in str(err) and err.reason.endswith("…)") and len(err.reason) < 260
    assert with_body_snippet(ServerError("HTTP 502"), b"").reason == "HTTP 502"


# --- json_api ---------------------------------------------------------------------


def test_bearer_headers_carry_the_key_and_configured_headers_win() -> None:
    headers = bearer_headers("k-1", {"accept": "application/x-ndjson", "X-Client": "t"})
    assert headers == {"content-type": "application/json", "accept": "application/x-ndjson",
                       "Authorization": "Bearer k-1", "X-Client": "t"}
    assert "Authorization" not in bearer_headers(None)
    assert "accept" not in bearer_headers("k", accept=None)


def test_a_streamed_post_asks_for_events_and_is_framed() -> None:
    headers = bearer_headers("k")
    plain = post_json("https://x/v1/chat", headers, {"a": 1}, stream=False)
    streamed = post_json("https://x/v1/chat", headers, {"a": 1}, stream=True)
    assert (plain.framing, plain.headers["accept"]) == (None, "application/json")
    assert (streamed.framing, streamed.headers["accept"]) == ("sse", "text/event-stream")
    assert headers["accept"] == "application/json"  # the caller's dict is not changed
    ndjson = post_json("u", headers, {}, stream=True, framing="ndjson", stream_accept=False)
    assert (ndjson.framing, ndjson.headers["accept"]) == ("ndjson", "application/json")
    assert KEY not in repr(post_json("u", bearer_headers(KEY), {}, stream=False))


def test_a_model_list_get_sends_no_content_type() -> None:
    request = get_request("https://x/v1/models", bearer_headers("k"))
    assert request.method == "GET" and "content-type" not in request.headers
    assert request.headers["Authorization"] == "Bearer k"


def test_a_2xx_body_that_is_not_json_names_the_endpoint_and_status() -> None:
    with pytest.raises(InvalidResponseError, match="/v2/chat answered 200 with a body that is "
                                                   "not JSON") as info:
        json_body(HttpResponse(200, {}, b"<html>"), provider="p", model="m", endpoint="/v2/chat",
                  request_id="r-9")
    assert (info.value.status, info.value.request_id, info.value.provider) == (200, "r-9", "p")
    assert json_body(HttpResponse(200, {}, b'{"a": 1}'), provider="p", model="m",
                     endpoint="e") == {"a": 1}


def test_a_parse_error_gets_the_response_status_and_request_id() -> None:
    response = HttpResponse(203, {}, b"{}")
    with pytest.raises(InvalidResponseError) as info, answered(response, "req-7"):
        raise InvalidResponseError("no choices", provider="p")
    assert (info.value.status, info.value.request_id) == (203, "req-7")


def test_a_model_list_without_its_array_is_an_invalid_response() -> None:
    ok = HttpResponse(200, {}, b'{"data": [{"id": "a"}, {"id": 3}, "x", '
                                b'{"id": "b", "chat": false}]}')
    items = model_items(ok, "data", provider="p")
    assert model_names(items) == ["a", "b"]
    assert model_names(items, keep=lambda m: m.get("chat") is not False) == ["a"]
    with pytest.raises(InvalidResponseError, match="model list has no 'models' array"):
        model_items(ok, "models", provider="p")
    with pytest.raises(InvalidResponseError, match="unexpected /v1/models body"):
        model_items(HttpResponse(200, {}, b"nope"), "data", provider="p",
                    message="unexpected /v1/models body")


# --- openai_compat ----------------------------------------------------------------


class _Parser(ChatCompletionsStreamParser):
    def error(self, payload: Mapping[str, Any]) -> ProviderError:
        return RateLimitError(str(payload.get("error")), provider=self.provider,
                              model=self.model)


STREAM = (
    b'data: {"id":"c1","model":"m-2","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"lo","tool_calls":[{"index":0,'
    b'"id":"t1","function":{"name":"f","arguments":"{\\"a\\""}}]}}]}\n\n'
    b'data: {"choices":[{"index":1,"delta":{"content":"ignored"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n'
    b"data: [DONE]\n\n"
)


def test_a_chat_completions_stream_becomes_chunks() -> None:
    chunks = parse_stream(_Parser(provider="p", model="m"), STREAM, step=7)
    assert "".join(c.text for c in chunks) == "Hello"
    [call] = [d for c in chunks for d in c.tool_calls]
    assert (call.index, call.id, call.name, call.arguments) == (0, "t1", "f", '{"a"')
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage == Usage(input_tokens=5, output_tokens=2)
    assert {(c.response_id, c.response_model) for c in chunks} == {("c1", "m-2")}


def test_a_stream_cut_before_done_is_interrupted() -> None:
    with pytest.raises(StreamInterruptedError, match=r"\[DONE\]"):
        parse_stream(_Parser(provider="p", model="m"), STREAM.rsplit(b"data: [DONE]", 1)[0])


def test_an_in_band_error_event_raises_the_plugins_error() -> None:
    parser = _Parser(provider="p", model="m")
    with pytest.raises(RateLimitError, match="slow down"):
        list(parser.feed(StreamEvent(data='{"error": "slow down"}')))
    assert parser.done  # nothing after an error is parsed
    with pytest.raises(InvalidResponseError, match="stream event is not JSON"):
        list(_Parser(provider="p", model="m").feed(StreamEvent(data="{oops")))


def test_tool_arguments_must_be_a_json_object() -> None:
    assert tool_arguments('{"a": 1}', provider="p", model="m", name="f") == {"a": 1}
    assert tool_arguments({"a": 1}, provider="p", model="m", name="f") == {"a": 1}
    assert tool_arguments("", provider="p", model="m", name="f") == {}
    with pytest.raises(InvalidResponseError, match="'f' has arguments that are not JSON"):
        tool_arguments("{oops", provider="p", model="m", name="f")
    with pytest.raises(InvalidResponseError, match="not a JSON object"):
        tool_arguments("[1]", provider="p", model="m", name="f")


def test_a_malformed_completion_is_refused_with_the_callers_reason() -> None:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected body: {why}")

    for data, why in (([], "not a JSON object"), ({"choices": []}, "no choices"),
                      ({"choices": [{}]}, "choice has no message")):
        with pytest.raises(InvalidResponseError, match=why):
            first_choice(data, bad)
    with pytest.raises(InvalidResponseError, match="tool_calls is not a list"):
        tool_call_parts("x", provider="p", model="m", bad=bad)
    with pytest.raises(InvalidResponseError, match="without a function name"):
        tool_call_parts([{"function": {}}], provider="p", model="m", bad=bad)
    [part] = tool_call_parts([{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
                             provider="p", model="m", bad=bad)
    assert (part.id, part.name, part.arguments) == ("c", "f", {})


def test_chat_usage_reads_cache_and_reasoning_and_refuses_nonsense() -> None:
    usage = chat_usage({"prompt_tokens": 10, "completion_tokens": 4,
                        "prompt_tokens_details": {"cached_tokens": 6},
                        "completion_tokens_details": {"reasoning_tokens": 3}})
    assert usage == Usage(input_tokens=10, output_tokens=4, cache_read_tokens=6,
                          reasoning_tokens=3)
    assert chat_usage(None) is None
    with pytest.raises(InvalidResponseError, match="completion_tokens"):
        chat_usage({"completion_tokens": -5}, provider="p", model="m")


# each kind of count as likely as the others: the edges of the range, whole numbers in
# it, and what is not a count (bool, float, text, a list)
_COUNT = st.one_of(
    st.none(), st.sampled_from([-1, 0, 10**9, 10**9 + 1, 2**64]), st.integers(0, 10**6),
    st.booleans(), st.floats(allow_nan=True), st.sampled_from(["7", " 12 ", "x", "1e3"]),
    st.just([1]))


@given(st.fixed_dictionaries({}, optional={
    "prompt_tokens": _COUNT, "completion_tokens": _COUNT,
    "prompt_tokens_details": st.none() | st.fixed_dictionaries({}, optional={
        "cached_tokens": _COUNT}),
    "completion_tokens_details": st.none() | st.fixed_dictionaries({}, optional={
        "reasoning_tokens": _COUNT}),
}))
@settings(max_examples=400, deadline=None, derandomize=True, database=None)
def test_chat_usage_fast_path_reads_what_token_count_reads(data: dict[str, Any]) -> None:
    """Whole counts in range take a shortcut in ``usage_of``; the result (or the
    refusal) is the one ``token_count`` gives for each field."""
    prompt, completion = (data.get(k) or {} for k in ("prompt_tokens_details",
                                                       "completion_tokens_details"))

    assert _usage_outcome(lambda: chat_usage(data, provider="p", model="m")) == _usage_outcome(
        lambda: Usage(**{name: token_count(value, field=label, provider="p", model="m")
                         for name, (label, value) in {
            "input_tokens": ("prompt_tokens", data.get("prompt_tokens")),
            "output_tokens": ("completion_tokens", data.get("completion_tokens")),
            "cache_read_tokens": ("prompt_tokens_details.cached_tokens",
                                  prompt.get("cached_tokens")),
            "reasoning_tokens": ("completion_tokens_details.reasoning_tokens",
                                 completion.get("reasoning_tokens")),
        }.items()}))


@pytest.mark.parametrize("odd", [-1, True, False, 1.0, 1.5, "7", 10**9 + 1, [1], None])
@pytest.mark.parametrize("where", ["prompt_tokens", "completion_tokens", "cached", "reasoning"])
def test_chat_usage_one_odd_count_among_good_ones(where: str, odd: Any) -> None:
    counts = {"prompt_tokens": 10, "completion_tokens": 4, "cached": 6, "reasoning": 3}
    counts[where] = odd
    body = {"prompt_tokens": counts["prompt_tokens"],
            "completion_tokens": counts["completion_tokens"],
            "prompt_tokens_details": {"cached_tokens": counts["cached"]},
            "completion_tokens_details": {"reasoning_tokens": counts["reasoning"]}}
    test_chat_usage_fast_path_reads_what_token_count_reads.hypothesis.inner_test(body)  # type: ignore[attr-defined]


def _usage_outcome(fn: Any) -> Any:
    try:
        u = fn()
    except InvalidResponseError as exc:
        return ("refused", str(exc))
    return ("ok", u.model_dump(), sorted(u.model_fields_set))


# --- bodies: finish reasons, usage with cache -----------------------------------


def test_finish_reasons_and_cached_usage() -> None:
    assert finish_from({"end": "stop"}, "end") == "stop"
    assert finish_from({"end": "stop"}, "new_reason") == "other"
    assert finish_from({"end": "stop"}, None) is None
    usage = usage_with_cache({"in": 3, "out": 2, "read": 10, "write": 5},
                             ("in", "out", "read", "write"))
    assert usage == Usage(input_tokens=18, output_tokens=2, cache_read_tokens=10,
                          cache_write_tokens=5)
    assert usage_with_cache(None, ("in", "out", "read", "write")) == Usage()
    with pytest.raises(InvalidResponseError, match=r"usage\.write"):
        usage_with_cache({"write": -1}, ("in", "out", "read", "write"))


# --- request_parts ----------------------------------------------------------------


PNG = "iVBORw0KGgo="


def test_images_are_taken_apart_sniffed_and_made_urls() -> None:
    assert image_data(ImagePart(url=f"data:image/jpeg;base64,{PNG}"), 0) == (PNG, "image/jpeg")
    assert image_data(ImagePart(url="https://x/cat.png"), 0) == (None, None)
    with pytest.raises(BadRequestError, match=r"messages\[2\]: image data URL must be base64"):
        image_data(ImagePart(url="data:image/png,raw"), 2)
    assert sniff_image(PNG) == "image/png" and sniff_image("AAAA") is None
    assert image_url(ImagePart(data=PNG)) == f"data:image/png;base64,{PNG}"
    assert image_url(ImagePart(url="https://x/cat.png")) == "https://x/cat.png"


def test_request_fields_are_sent_only_when_given() -> None:
    assert put_present({"model": "m"}, [("temperature", 0.0), ("top_p", None)]) == {
        "model": "m", "temperature": 0.0}
    assert function_tool("f", "", {"type": "object"}, None) == {
        "type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    assert function_tool("f", "d", {}, True)["function"] == {
        "name": "f", "description": "d", "parameters": {}, "strict": True}


def test_a_tool_message_holds_only_tool_results() -> None:
    result = ToolResultPart(tool_call_id="c1", content="42")
    message = Message(role="user", content=[result, TextPart(text="and?")])
    assert split_tool_results(message, 0) == ([result], [TextPart(text="and?")])
    with pytest.raises(BadRequestError, match=r"messages\[3\]: a tool message needs"):
        split_tool_results(Message(role="tool", content="plain text"), 3)
    assert text_or_parts([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}]
    assert text_or_parts(parts) == parts


# --- streams, models --------------------------------------------------------------


class _Events(JsonEventParser):
    label = "Demo stream"

    def feed(self, event: StreamEvent) -> list[Any]:
        return [self.chunk(text=self.load_object(event.data)["text"])]

    def close(self) -> list[Any]:
        if not self.done:
            raise self.broken("no end event")
        return []


def test_a_json_event_parser_names_its_stream_in_errors() -> None:
    parser = _Events(provider="p", model="m")
    [chunk] = parser.feed(StreamEvent(data='{"text": "hi"}'))
    assert (chunk.text, chunk.provider, chunk.model) == ("hi", "p", "m")
    for data, why in (("{oops", "event data is not JSON"), ("[1]", "event data is not a JSON")):
        with pytest.raises(StreamInterruptedError, match=f"Demo stream: {why}") as info:
            parser.feed(StreamEvent(data=data))
        assert (info.value.provider, info.value.model) == ("p", "m")
    with pytest.raises(StreamInterruptedError, match="Demo stream: no end event"):
        parser.close()


def test_the_model_index_finds_ids_and_aliases() -> None:
    first = ModelInfo(provider_type="t", model="a", aliases=("a-1", "b"))
    second = ModelInfo(provider_type="t", model="b", aliases=("a-1", "b-1"))
    index = index_models([first, second])
    assert index["a"] is first and index["a-1"] is first  # the first model keeps an alias
    assert index["b"] is second and index["b-1"] is second  # an id wins over an alias


# --- Provider defaults: stream_parser_type, catalog ------------------------------


class _Minimal(Provider):
    type_name = "minimal"
    stream_parser_type = _Parser
    catalog = (ModelInfo(provider_type="minimal", model="m-1"),)

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        return json_api.post_json("https://x/chat", {}, {"model": model}, stream=stream)

    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        raise NotImplementedError

    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return ServerError("x")


def test_a_provider_gets_its_stream_parser_and_catalog_from_class_attributes() -> None:
    provider = _Minimal(ProviderSettings(name="mini", type="minimal"))
    parser = provider.stream_parser("m-1")
    assert isinstance(parser, _Parser) and (parser.provider, parser.model) == ("mini", "m-1")
    assert [m.model for m in provider.models()] == ["m-1"]
    provider.models().clear()  # a copy: the class's catalog is not changed
    assert len(provider.models()) == 1

    class _NoStream(_Minimal):
        stream_parser_type = None  # type: ignore[assignment]  # what a plugin may forget

    with pytest.raises(NotImplementedError, match="_NoStream sets neither stream_parser_type"):
        _NoStream(ProviderSettings(name="n", type="minimal")).stream_parser("m-1")
