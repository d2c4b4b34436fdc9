"""``aws-sm:NAME[#FIELD]``: AWS Secrets Manager, through boto3.

``NAME`` is a secret's name or ARN; ``FIELD`` picks one key of a JSON secret (the
usual shape: ``{"openai": "sk-...", "anthropic": "sk-ant-..."}``). Credentials and
region come from boto3's own chain (env, profile, instance role; the region of an
ARN wins); ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` points it elsewhere (a VPC
endpoint, or moto in tests), as boto3 itself reads it. One client per region,
made on the first read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from polyroute.errors import MissingSecretError
from polyroute.secret_backends.common import field_of, split_field, ttl, vendor

__all__ = ["AwsSecretsManagerBackend"]

_reading = threading.local()


class _NoBodies(logging.Filter):
    """botocore logs whole response bodies at DEBUG (``botocore.parsers``): while this
    thread reads a secret, those records are dropped, so DEBUG logging never prints it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_reading, "on", False)


_FILTER = _NoBodies()
_BODY_LOGGERS = ("botocore.parsers", "botocore.endpoint")


class AwsSecretsManagerBackend:
    scheme = "aws-sm"

    def __init__(self) -> None:
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        return ttl(300.0)

    def _client(self, region: str | None) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                boto3 = vendor("boto3", feature="an aws-sm: secret reference",
                               extra="aws-secrets")
                client = boto3.session.Session().client("secretsmanager", region_name=region)
                self._clients[region] = client
            return client

    def read(self, reference: str) -> str:
        name, field = split_field(reference)
        region = _arn_region(name) or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION")
        client = self._client(region)
        for logger in _BODY_LOGGERS:
            logging.getLogger(logger).addFilter(_FILTER)  # idempotent: a set per logger
        _reading.on = True
        try:
            answer = client.get_secret_value(SecretId=name)
        finally:
            _reading.on = False
        value = answer.get("SecretString")
        if value is None:
            raise MissingSecretError(f"aws-sm:{name} holds binary data, not text",
                                     fix="store the key as a SecretString")
        if field is None and value.lstrip().startswith("{"):
            try:  # a key/value secret (the console's default): one field, or name it
                return field_of(json.loads(value), None, where=f"aws-sm:{name}")
            except ValueError:
                pass  # text that merely starts with a brace: the whole value
        return field_of(value, field, where=f"aws-sm:{name}")


def _arn_region(name: str) -> str | None:
    parts = name.split(":")
    return parts[3] if name.startswith("arn:") and len(parts) > 4 and parts[3] else None
