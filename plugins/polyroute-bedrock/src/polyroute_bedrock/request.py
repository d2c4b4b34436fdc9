"""Neutral ``ChatRequest`` → Converse / ConverseStream request body.

Reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
(``messages``, ``system``, ``inferenceConfig``, ``toolConfig``,
``additionalModelRequestFields``), ``API_runtime_ContentBlock`` (``text``,
``image`` with ``source.bytes`` base64 in JSON or ``source.s3Location``,
``toolUse``, ``toolResult``), ``API_runtime_ToolConfiguration`` /
``API_runtime_ToolChoice`` (``auto``, ``any``, ``tool``).

Not one-to-one:

- ``system`` messages, wherever they are, become ``system`` text blocks.
- ``tool`` messages become ``user`` messages of ``toolResult`` blocks, and
  consecutive messages of one role are merged: Converse wants the roles to
  alternate (results of one turn in one message, ``toolResult`` blocks first).
- ``max_tokens``/``temperature``/``top_p``/``stop`` → ``inferenceConfig``
  (``maxTokens``, ``temperature``, ``topP``, ``stopSequences``). ``top_k`` is not
  in the base set: it goes to ``additionalModelRequestFields`` under the model
  family's own name (Anthropic and Mistral ``top_k``, Amazon Nova
  ``inferenceConfig.topK``, Cohere ``k``; others ``top_k``).
- ``frequency_penalty``, ``presence_penalty`` and ``seed`` have no Converse
  field and are dropped (logged at debug).
- ``params.extra``: the Converse top-level fields (``guardrailConfig``,
  ``performanceConfig``, ``promptVariables``, ``requestMetadata``,
  ``additionalModelResponseFieldPaths``, ``serviceTier``, ``outputConfig``) go
  top-level; anything else is merged into ``additionalModelRequestFields``.
- ``tool_choice``: ``auto`` is the default and is not sent (some model families
  reject an explicit ``toolChoice``); ``required`` → ``any``; a named tool →
  ``tool``; ``none`` sends no tools unless the history holds tool blocks (then
  ``toolConfig`` is required by the API and is sent without a choice).
- JSON output is emulated, as for Anthropic: ``response_format`` adds a tool
  ``structured_output__<name>`` whose input schema is the schema, forced with
  ``toolChoice.tool``; the parsers turn that tool's input back into JSON text.
- Images: ``data``/``data:`` URLs → ``bytes`` (base64 string in the JSON
  protocol), ``s3://`` URLs → ``s3Location``; ``http(s)`` URLs are refused.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import image_data, sniff_image
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = [
    "JSON_TOOL_PREFIX",
    "TOP_LEVEL_KEYS",
    "build_body",
    "convert_messages",
    "is_json_tool",
    "model_family",
]

logger = logging.getLogger("polyroute_bedrock")

JSON_TOOL_PREFIX = "structured_output__"
TOP_LEVEL_KEYS = frozenset({
    "guardrailConfig", "performanceConfig", "promptVariables", "requestMetadata",
    "additionalModelResponseFieldPaths", "serviceTier", "outputConfig",
})
_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
            "image/webp": "webp"}
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_GEO = re.compile(r"^(?:us|eu|apac|jp|au|ca|global|us-gov)\.")


def model_family(model: str) -> str:
    """``anthropic``, ``amazon``, ``meta``... from a model id, inference profile id or ARN."""
    base = model.rsplit("/", 1)[-1]
    base = _GEO.sub("", base)
    return base.split(".", 1)[0] if "." in base else ""


def json_tool_name(name: str | None) -> str:
    return (JSON_TOOL_PREFIX + (_BAD_NAME.sub("_", name or "json") or "json"))[:64]


def is_json_tool(name: object) -> bool:
    return isinstance(name, str) and name.startswith(JSON_TOOL_PREFIX)


def build_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The JSON body for ``POST /model/{modelId}/converse`` (and ``converse-stream``)."""
    system, messages = convert_messages(request.messages)
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = [{"text": s} for s in system]
    p = request.params
    config: dict[str, Any] = {}
    for name, value in (("maxTokens", p.max_tokens), ("temperature", p.temperature),
                        ("topP", p.top_p), ("stopSequences", p.stop)):
        if value is not None:
            config[name] = value
    if config:
        body["inferenceConfig"] = config
    dropped = [n for n in ("frequency_penalty", "presence_penalty", "seed")
               if getattr(p, n) is not None]
    if dropped:
        logger.debug("Converse has no %s: dropped for %s", ", ".join(dropped), model)
    additional: dict[str, Any] = {}
    if p.top_k is not None:
        additional.update(_top_k(model, p.top_k))
    for key, value in p.extra.items():
        if key in TOP_LEVEL_KEYS:
            body[key] = value
        else:
            additional[key] = value
    tool_config = _tool_config(request, messages)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    if additional:
        body["additionalModelRequestFields"] = additional
    return body


def _top_k(model: str, k: int) -> dict[str, Any]:
    family = model_family(model)
    if family == "amazon":
        return {"inferenceConfig": {"topK": k}}
    if family == "cohere":
        return {"k": k}
    return {"top_k": k}


# --- messages ----------------------------------------------------------------


def convert_messages(messages: list[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """``(system texts, messages)`` with roles alternating, starting as given."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            if message.text:
                system.append(message.text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [_block(part, message, index) for part in message.parts]
        blocks = [b for b in blocks if not ("text" in b and not b["text"])]
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    out: list[dict[str, Any]] = []
    for role, blocks in turns:
        if role == "user":
            blocks = sorted(blocks, key=lambda b: "toolResult" not in b)
        out.append({"role": role, "content": blocks})
    return system, out


def _block(part: Any, message: Message, index: int) -> dict[str, Any]:
    if isinstance(part, TextPart):
        if message.role == "tool":
            raise BadRequestError(f"messages[{index}]: a tool message needs ToolResultPart "
                                  "content (with tool_call_id), not plain text")
        return {"text": part.text}
    if isinstance(part, ImagePart):
        return {"image": _image(part, index)}
    if isinstance(part, ToolCallPart):
        return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": part.arguments}}
    if isinstance(part, ToolResultPart):
        result: dict[str, Any] = {"toolUseId": part.tool_call_id,
                                  "content": [{"text": part.content}]}
        if part.is_error:
            result["status"] = "error"
        return {"toolResult": result}
    raise BadRequestError(f"messages[{index}]: unsupported part {type(part).__name__}")


def _image(part: ImagePart, index: int) -> dict[str, Any]:
    data, media_type, url = part.data, part.media_type, part.url or ""
    if data is None and url.startswith("s3://"):
        fmt = _FORMATS.get(media_type or "") or _FORMATS.get(
            "image/" + url.rsplit(".", 1)[-1].lower())
        if fmt is None:
            raise BadRequestError(f"messages[{index}]: image from S3 needs a media_type")
        return {"format": fmt, "source": {"s3Location": {"uri": url}}}
    data, media_type = image_data(part, index)
    if not data:
        raise BadRequestError(f"messages[{index}]: Converse takes images as bytes or from S3; "
                              "it does not fetch http(s) URLs")
    fmt = _FORMATS.get(media_type or "") or _FORMATS.get(sniff_image(data) or "")
    if fmt is None:
        raise BadRequestError(f"messages[{index}]: image data needs a media_type "
                              "(png, jpeg, gif or webp)")
    return {"format": fmt, "source": {"bytes": data}}


# --- tools -------------------------------------------------------------------


def _tool_config(request: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools = [_tool_spec(t.name, t.description, t.parameters) for t in request.tools]
    choice = request.tool_choice
    fmt = request.response_format
    forced: dict[str, Any] | None = None
    if fmt is not None and fmt.type != "text":
        json_tool = _json_tool(fmt)
        tools.append(json_tool)
        name = json_tool["toolSpec"]["name"]
        forced = {"tool": {"name": name}} if not request.tools or choice == "none" else {"any": {}}
    history_has_tools = any(
        "toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    if not tools or (choice == "none" and forced is None and not history_has_tools):
        return None
    config: dict[str, Any] = {"tools": tools}
    if forced is not None:
        config["toolChoice"] = forced
    elif isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    return config


def _tool_spec(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name}
    if description:
        spec["description"] = description
    spec["inputSchema"] = {"json": schema}
    return {"toolSpec": spec}


def _json_tool(fmt: ResponseFormat) -> dict[str, Any]:
    schema: dict[str, Any]
    if fmt.type == "json_schema" and fmt.json_schema:
        schema = dict(fmt.json_schema)
        schema.setdefault("type", "object")
    else:
        schema = {"type": "object"}
    return _tool_spec(
        json_tool_name(fmt.name),
        "Give your final answer as the input of this tool, as JSON matching its input "
        "schema. Do not answer in plain text.",
        schema,
    )
