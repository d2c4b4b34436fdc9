"""LangChain messages ↔ neutral messages, every kind both ways."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from polyroute.langchain import (
    UnsupportedContentError,
    to_langchain,
    to_langchain_messages,
    to_neutral,
    to_neutral_messages,
)
from polyroute.types import ImagePart, Message, TextPart, ToolCallPart, ToolResultPart

PNG_B64 = "iVBORw0KGgo="


def test_system_and_human_text() -> None:
    out = to_neutral_messages([SystemMessage("be brief"), HumanMessage("hi", name="ann")])
    assert out == [
        Message(role="system", content="be brief"),
        Message(role="user", content="hi", name="ann"),
    ]


def test_text_blocks_collapse_to_a_string() -> None:
    msg = HumanMessage([{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
                        "b", {"type": "text", "text": ""}])
    assert to_neutral(msg).content == "ab"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
         ImagePart(url="https://x/y.png", detail="low")),
        ({"type": "image_url", "image_url": "https://x/y.png"}, ImagePart(url="https://x/y.png")),
        ({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
         ImagePart(data=PNG_B64, media_type="image/png")),
        ({"type": "image", "url": "https://x/y.png"}, ImagePart(url="https://x/y.png")),
        ({"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
         ImagePart(data=PNG_B64, media_type="image/png")),
        ({"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
         ImagePart(data=PNG_B64, media_type="image/png")),
        ({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                      "data": PNG_B64}},
         ImagePart(data=PNG_B64, media_type="image/png")),
    ],
)
def test_image_blocks(block: dict[str, object], expected: ImagePart) -> None:
    msg = to_neutral(HumanMessage([{"type": "text", "text": "what is this?"}, block]))
    assert msg.content == [TextPart(text="what is this?"), expected]


def test_unsupported_blocks_raise() -> None:
    with pytest.raises(UnsupportedContentError, match="'file'"):
        to_neutral(HumanMessage([{"type": "file", "base64": "x", "mime_type": "application/pdf"}]))
    with pytest.raises(UnsupportedContentError, match="FunctionMessage"):
        to_neutral(FunctionMessage(content="x", name="f"))
    with pytest.raises(UnsupportedContentError, match="tool results carry text"):
        to_neutral(ToolMessage([{"type": "image", "url": "https://x"}], tool_call_id="1"))


def test_ai_tool_calls_become_parts() -> None:
    ai = AIMessage(
        [{"type": "text", "text": "let me look"},
         {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
         {"type": "thinking", "thinking": "hmm", "signature": "s"}],
        tool_calls=[{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}],
    )
    assert to_neutral(ai) == Message(
        role="assistant",
        content=[TextPart(text="let me look"), ToolCallPart(id="t1", name="f", arguments={"a": 1})],
    )
    empty = AIMessage("", tool_calls=[{"name": "g", "args": {}, "id": None, "type": "tool_call"}])
    assert to_neutral(empty).content == [ToolCallPart(id="call_0", name="g")]
    assert to_neutral(AIMessage("plain")) == Message.assistant("plain")


def test_tool_messages() -> None:
    ok = ToolMessage("3", tool_call_id="t1", name="add")
    err = ToolMessage([{"type": "text", "text": "boom"}], tool_call_id="t2", status="error")
    assert to_neutral(ok).content == [ToolResultPart(tool_call_id="t1", content="3", name="add")]
    assert to_neutral(err).content == [
        ToolResultPart(tool_call_id="t2", content="boom", is_error=True)
    ]


def test_chat_message_roles() -> None:
    assert to_neutral(ChatMessage(content="x", role="developer")).role == "system"
    assert to_neutral(ChatMessage(content="x", role="assistant")).role == "assistant"
    with pytest.raises(UnsupportedContentError):
        to_neutral(ChatMessage(content="x", role="critic"))


def test_neutral_to_langchain_every_role() -> None:
    neutral = [
        Message.system("sys"),
        Message(role="user", content=[TextPart(text="see"),
                                      ImagePart(data=PNG_B64, media_type="image/png")],
                name="ann"),
        Message(role="assistant", content=[TextPart(text="calling"),
                                           ToolCallPart(id="t1", name="f", arguments={"a": 1})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="t1", content="ok", name="f"),
                                      ToolResultPart(tool_call_id="t2", content="bad",
                                                     is_error=True)]),
    ]
    lc = to_langchain_messages(neutral)
    assert [type(m) for m in lc] == [SystemMessage, HumanMessage, AIMessage, ToolMessage,
                                     ToolMessage]
    assert lc[1].content == [{"type": "text", "text": "see"},
                             {"type": "image", "base64": PNG_B64, "mime_type": "image/png"}]
    assert lc[1].name == "ann"
    ai = lc[2]
    assert isinstance(ai, AIMessage)
    assert ai.content == "calling"
    assert ai.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}]
    assert isinstance(lc[4], ToolMessage) and lc[4].status == "error"


def test_round_trip_is_stable() -> None:
    neutral = [
        Message.system("sys"),
        Message(role="user", content=[TextPart(text="see"), ImagePart(url="https://x/y.png",
                                                                       detail="high")]),
        Message(role="assistant", content=[ToolCallPart(id="t1", name="f", arguments={"a": 1})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="t1", content="ok", name="f")]),
        # a provider's opaque call signature (Gemini's thoughtSignature) survives the trip
        Message(role="assistant", content=[
            ToolCallPart(id="t2", name="f", arguments={}, signature="gemini:CiIBVKhc"),
            ToolCallPart(id="t3", name="f", arguments={})]),
        Message.assistant("done"),
    ]
    assert to_neutral_messages(to_langchain_messages(neutral)) == neutral
    assert to_langchain(Message.user("hi")) == [HumanMessage("hi")]
