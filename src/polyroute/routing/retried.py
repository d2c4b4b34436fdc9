"""One deployment's tries, as steps: the first attempt directly (the common case pays
no retry machinery), once more at once if its key was rotated, then the retry
policy's waits and tries. The chat and the embedding paths both run this
(``Router._try``, ``_embed_try``)."""

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

__all__ = ["retried", "tried"]

T = TypeVar("T")


def tried(attempt: Callable[[], Steps[T]], rotated: Callable[[ProviderError], bool],
          policy: RetryPolicy, call: Call, sleep: Callable[[float], None],
          asleep: Callable[[float], Awaitable[Any]]) -> Steps[T]:
    """``attempt()``; after a failure that ``rotated`` says a rotated key explains (a
    401 whose key changed in its secret backend), once more at once with the new key;
    then ``retried``'s waits and tries (tenacity's decisions, starting from that
    failure, so waits, stops and counts are as if tenacity's own loop had made it)."""
    try:
        return (yield from attempt())
    except ProviderError as exc:
        failure = exc
    if rotated(failure):
        try:
            return (yield from attempt())
        except ProviderError as exc:
            failure = exc
    return (yield from retried(policy, call, failure, attempt, sleep, asleep))


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
        try:
            wait = cast(DoSleep, retrying.iter(state))  # or raises the last failure
        finally:
            # tenacity leaves its next actions (bound methods, closures over the state)
            # on the Retrying object, per thread: a reference cycle per retried
            # deployment unless reset, here, on the thread that made them (the steps
            # may go on on another: an offloading state store's)
            retrying.iter_state.reset()
        state.prepare_for_next_attempt()
        yield Sleep(wait, sleep, asleep)
        try:
            return (yield from again())
        except ProviderError as exc:
            state.set_exception((type(exc), exc, exc.__traceback__))
