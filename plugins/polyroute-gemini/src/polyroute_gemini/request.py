"""Neutral ``ChatRequest`` → ``GenerateContentRequest`` body.

Reference: https://ai.google.dev/api/generate-content#request-body (``contents``,
``systemInstruction``, ``tools``, ``toolConfig``, ``generationConfig``,
``safetySettings``), https://ai.google.dev/api/caching#Content (``Part``:
``text``, ``inlineData``, ``fileData``, ``functionCall``, ``functionResponse``)
and https://ai.google.dev/gemini-api/docs/function-calling.

What is not one-to-one:

- ``system`` messages, wherever they are, become ``systemInstruction``.
- Roles are ``user`` and ``model``; tool results are ``functionResponse`` parts
  of a ``user`` turn, and consecutive turns of one role are merged (all
  responses to one turn's parallel calls must travel together).
- A ``functionResponse`` needs the function's *name*: taken from the
  ``ToolResultPart``, else from the assistant tool call with that id. Its
  ``response`` must be an object: a JSON-object result is sent as is, anything
  else as ``{"output": ...}`` (``{"error": ...}`` when ``is_error``), as the
  function-calling guide suggests.
- Gemini's ``functionCall`` usually has no id; the parser then makes one up
  (prefix ``gemini-call-``), and such ids are not sent back.
- Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures):
  a call's ``ToolCallPart.signature`` (``gemini:`` + the signature) goes back as
  the part's ``thoughtSignature``; another family's signature is ignored.
  Gemini 3 answers 400 when a model turn's first ``functionCall`` comes back
  without one, so a turn none of whose calls carries a signature (history from
  another provider, or built by hand) gets the documented placeholder
  ``skip_thought_signature_validator`` on its first call.
- ``tool_choice``: ``auto``→``AUTO``, ``none``→``NONE``, ``required``→``ANY``,
  a named tool → ``ANY`` with ``allowedFunctionNames``. ``parallel_tool_calls``
  has no equivalent and is dropped.
- JSON output: ``responseMimeType: application/json`` plus ``responseSchema``
  (converted by ``schema.to_gemini_schema``) or, with
  ``extra.schema_field: responseJsonSchema``, the schema verbatim.
- ``params.extra``: keys naming top-level request fields (``safetySettings``,
  ``cachedContent``, ``labels``...) go to the body, the rest (``thinkingConfig``,
  ``candidateCount``, ``responseModalities``...) into ``generationConfig``.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import image_data, put_present, sniff_image
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from polyroute_gemini.schema import to_gemini_schema

__all__ = [
    "FOREIGN_SIGNATURE", "SIGNATURE_PREFIX", "SYNTHETIC_ID_PREFIX", "build_body",
    "convert_contents",
]

SYNTHETIC_ID_PREFIX = "gemini-call-"
"""Ids the parser invents for ``functionCall`` parts that came without one."""

FOREIGN_SIGNATURE = "skip_thought_signature_validator"
"""Google's placeholder ``thoughtSignature`` for calls Gemini did not make."""

SIGNATURE_PREFIX = "gemini:"
"""``ToolCallPart.signature`` namespace: other families' signatures are not ours."""

_TOP_LEVEL = frozenset({
    "safetySettings", "cachedContent", "labels", "toolConfig", "tools",
    "systemInstruction", "contents",
})
_SCHEMA_FIELDS = ("responseSchema", "responseJsonSchema")


def build_body(
    request: ChatRequest, *, safety_settings: object = None, schema_field: str | None = None,
) -> dict[str, Any]:
    """The JSON body for ``:generateContent`` / ``:streamGenerateContent``."""
    system, contents = convert_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t.name, t.description,
                                                                t.parameters)
                                                   for t in request.tools]}]
        config = _tool_config(request.tool_choice)
        if config is not None:
            body["toolConfig"] = config
    if safety_settings:
        body["safetySettings"] = safety_settings

    p = request.params
    gen: dict[str, Any] = put_present({}, (
        ("temperature", p.temperature),
        ("topP", p.top_p),
        ("topK", p.top_k),
        ("maxOutputTokens", p.max_tokens),
        ("stopSequences", list(p.stop) if p.stop else None),
        ("seed", p.seed),
        ("presencePenalty", p.presence_penalty),
        ("frequencyPenalty", p.frequency_penalty),
    ))
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        gen["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.json_schema:
            field = schema_field if schema_field in _SCHEMA_FIELDS else "responseSchema"
            gen[field] = (fmt.json_schema if field == "responseJsonSchema"
                          else to_gemini_schema(fmt.json_schema))
    for key, value in p.extra.items():
        if key in _TOP_LEVEL:
            body[key] = value
        else:
            gen[key] = value
    if gen:
        body["generationConfig"] = gen
    return body


def _declaration(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": name}
    if description:
        decl["description"] = description
    # An OBJECT schema with no properties is rejected ("properties: should be
    # non-empty for OBJECT type"): a function without parameters omits them.
    if parameters.get("properties") or parameters.get("type") not in (None, "object"):
        decl["parameters"] = to_gemini_schema(parameters)
    return decl


def _tool_config(choice: object) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name]}}
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[str(choice)]
    return {"functionCallingConfig": {"mode": mode}}


# --- contents ------------------------------------------------------------------


def convert_contents(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """``(system instruction text, contents)`` with roles merged into turns."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            if message.text:
                system.append(message.text)
            continue
        role = "model" if message.role == "assistant" else "user"
        parts = [_part(part, message, index, names) for part in message.parts]
        parts = [p for p in parts if p.get("text") != ""]
        if not parts:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": role, "parts": parts})
    for turn in turns:
        if turn["role"] == "model":
            _sign_first_call(turn["parts"])
    return "\n\n".join(system), turns


def _sign_first_call(parts: list[dict[str, Any]]) -> None:
    calls = [p for p in parts if "functionCall" in p]
    if calls and not any("thoughtSignature" in p for p in calls):
        calls[0]["thoughtSignature"] = FOREIGN_SIGNATURE


def _part(part: Any, message: Message, index: int, names: dict[str, str]) -> dict[str, Any]:
    if isinstance(part, TextPart):
        if message.role == "tool":
            raise BadRequestError(
                f"messages[{index}]: a tool message needs ToolResultPart content "
                "(with tool_call_id), not plain text"
            )
        return {"text": part.text}
    if isinstance(part, ImagePart):
        return _image(part, index)
    if isinstance(part, ToolCallPart):
        call: dict[str, Any] = {"name": part.name, "args": part.arguments}
        if not part.id.startswith(SYNTHETIC_ID_PREFIX):
            call["id"] = part.id
        if part.signature and part.signature.startswith(SIGNATURE_PREFIX):
            return {"functionCall": call,
                    "thoughtSignature": part.signature.removeprefix(SIGNATURE_PREFIX)}
        return {"functionCall": call}
    if isinstance(part, ToolResultPart):
        name = part.name or names.get(part.tool_call_id)
        if not name:
            raise BadRequestError(
                f"messages[{index}]: Gemini needs the function name of tool result "
                f"'{part.tool_call_id}' (set ToolResultPart.name, or keep the assistant "
                "message that made the call in the history)"
            )
        result: dict[str, Any] = {"name": name, "response": _response_object(part)}
        if not part.tool_call_id.startswith(SYNTHETIC_ID_PREFIX):
            result["id"] = part.tool_call_id
        return {"functionResponse": result}
    raise BadRequestError(f"messages[{index}]: unsupported part {type(part).__name__}")


def _response_object(part: ToolResultPart) -> dict[str, Any]:
    try:
        value = json.loads(part.content)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict) and not part.is_error:
        return value
    return {"error" if part.is_error else "output": part.content}


def _image(part: ImagePart, index: int) -> dict[str, Any]:
    data, media_type = image_data(part, index)
    if data is not None:
        media_type = media_type or sniff_image(data)
        if media_type is None:
            raise BadRequestError(f"messages[{index}]: image data needs a media_type")
        return {"inlineData": {"mimeType": media_type, "data": data}}
    if not part.url:
        raise BadRequestError(f"messages[{index}]: image needs a url or data")
    media_type = media_type or mimetypes.guess_type(part.url.split("?", 1)[0])[0]
    if media_type is None:
        raise BadRequestError(
            f"messages[{index}]: Gemini needs the image's media_type for a URL "
            f"({part.url[:60]!r} has no known extension)"
        )
    return {"fileData": {"mimeType": media_type, "fileUri": part.url}}
