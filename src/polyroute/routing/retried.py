"""After a failed attempt: the retry policy's waits and tries, as steps. The chat and
the embedding paths both run this one loop (``Router._try``, ``_embed_try``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tenacity import DoSleep, RetryCallState, Retrying, retry_if_exception

from polyroute.errors import ProviderError
from polyroute.routing.steps import Sleep, Steps

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from polyroute.resilience.retry import RetryPolicy
    from polyroute.routing.call import Call

__all__ = ["retried"]

T = TypeVar("T")


def retried(policy: RetryPolicy, call: Call, failure: ProviderError,
            again: Callable[[], Steps[T]], sleep: Callable[[float], None],
            asleep: Callable[[float], Awaitable[Any]]) -> Steps[T]:
    """Wait as ``policy`` says after ``failure`` and run ``again()`` until it answers;
    the last failure is raised when the policy stops (or the call's time is up)."""
    retrying = Retrying(
        stop=policy.stop, wait=policy.wait, before_sleep=call.retrying, reraise=True,
        retry=retry_if_exception(lambda e: policy.should_retry(e, call.remaining())))
    retrying.begin()
    state = RetryCallState(retrying, None, (), {})
    state.set_exception((type(failure), failure, failure.__traceback__))
    while True:
        wait = cast(DoSleep, retrying.iter(state))  # or raises the last failure
        state.prepare_for_next_attempt()
        yield Sleep(wait, sleep, asleep)
        try:
            return (yield from again())
        except ProviderError as exc:
            state.set_exception((type(exc), exc, exc.__traceback__))
