"""Models built from values already checked, without pydantic validating them again.

A provider's parser checks every value it takes from a body (``token_count`` for
usage, the finish-reason table, ``isinstance`` for ids and text) and then builds the
neutral types. Validating those values a second time is most of what building a
``ChatChunk`` costs, once per streamed event. ``trusted(cls, **values)`` makes the
same object ``cls(**values)`` would (field values, defaults, ``model_fields_set``),
the way pydantic's ``model_construct`` does, without that method's per-call cost
(pydantic 2.x inspects the signature of each ``default_factory`` on every construct).

Only for values of the field's own type: a value from outside that no parser checked
goes through ``cls(**values)``. ``tests/test_trusted_models.py`` compares the two.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted", "trusted_dict"]

M = TypeVar("M", bound=BaseModel)

_IMMUTABLE = (str, int, float, bool, bytes, tuple, frozenset, Enum, type(None))

# per class: (shared defaults, fields made per instance with their maker, required)
_Plan = tuple[dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...], tuple[str, ...]]
_PLANS: dict[type, _Plan] = {}
_new = object.__new__


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    # BaseModel's own slot descriptors: half the cost of object.__setattr__ per slot
    slot = BaseModel.__dict__.get(name)
    if slot is None or not hasattr(slot, "__set__"):  # pragma: no cover - another pydantic
        return lambda obj, value: object.__setattr__(obj, name, value)
    return slot.__set__  # type: ignore[no-any-return]


_set_dict, _set_fields_set, _set_extra, _set_private = (
    _slot_setter(n) for n in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                              "__pydantic_private__"))


def _plan(cls: type[BaseModel]) -> _Plan:
    if cls.model_config.get("extra") == "allow" or cls.__private_attributes__:
        raise TypeError(f"trusted() builds models without extra fields or private "
                        f"attributes; {cls.__name__} has them: call {cls.__name__}(...)")
    decorators = cls.__pydantic_decorators__
    if (decorators.validators or decorators.field_validators or decorators.root_validators
            or decorators.model_validators
            or cls.model_post_init is not BaseModel.model_post_init):
        # they would be skipped: what they change or refuse is the model's own business
        raise TypeError(f"{cls.__name__} has validators or model_post_init, which "
                        f"trusted() would skip: call {cls.__name__}(...)")
    shared: dict[str, Any] = {}
    fresh: list[tuple[str, Callable[[], Any]]] = []
    required: list[str] = []
    for name, field in cls.model_fields.items():
        factory = field.default_factory
        if factory is not None:
            # (pydantic >= 2.10: a factory may take the validated data; older: never)
            if getattr(field, "default_factory_takes_validated_data", False):
                raise TypeError(f"{cls.__name__}.{name}'s default needs the validated data: "
                                f"call {cls.__name__}(...)")
            fresh.append((name, factory))  # type: ignore[arg-type]
            shared[name] = None  # a place kept: __dict__ follows the fields' order (repr)
        elif field.is_required():
            required.append(name)
            shared[name] = None
        elif isinstance(field.default, _IMMUTABLE):
            shared[name] = field.default
        else:  # pydantic copies a mutable default for each instance: so do we
            fresh.append((name, functools.partial(copy.deepcopy, field.default)))
            shared[name] = None
    plan = (shared, tuple(fresh), tuple(required))
    _PLANS[cls] = plan
    return plan


def trusted(cls: type[M], /, **values: Any) -> M:
    """``cls(**values)`` for values already of their fields' types, not validated again.

    Unknown names raise ``TypeError``, as does leaving out a required field.
    """
    return trusted_dict(cls, values)


def trusted_dict(cls: type[M], values: dict[str, Any], /) -> M:
    """``trusted(cls, **values)`` from a dict the caller built (not kept: copied)."""
    plan = _PLANS.get(cls)
    shared, fresh, required = plan if plan is not None else _plan(cls)
    fields = shared.copy()
    for name, make in fresh:
        if name not in values:
            fields[name] = make()
    fields.update(values)
    if len(fields) != len(shared):
        unknown = sorted(set(values) - shared.keys())
        raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
    for name in required:
        if name not in values:
            raise TypeError(f"{cls.__name__}.{name} is required")
    obj = _new(cls)
    _set_dict(obj, fields)
    _set_fields_set(obj, set(values))
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
