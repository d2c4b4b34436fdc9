"""A router that follows the registry: committed changes are picked up without a restart.

``LiveRouter`` holds the current ``Router`` built from ``registry_config`` and
checks, at most once per refresh interval (and on ``refresh()``), whether the
registry changed. The check is one indexed read of the audit-chain head: every
committed change moves it, in this process or any other sharing the database.
A change builds a whole new ``Router`` first and then swaps one reference, so a
call sees either the old plan or the new one, never a mix; a call in flight
finishes on the router it started with, which is closed when its last call
ends. Every router shares one ``StateStore``, so breakers, budgets and rate
limits carry over a swap. A registry that fails to build (a credential no key
can decrypt, a plugin missing here) keeps the last good router, logged; the
write path already refuses a bad change before it is stored.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from polyroute.admin.credentials import CredentialsMixin
from polyroute.admin.errors import RegistryKeyError
from polyroute.admin.models import AuditHead
from polyroute.admin.secrets import KeyRing
from polyroute.admin.source import registry_config
from polyroute.config.schema import PolyrouteConfig
from polyroute.errors import ConfigError
from polyroute.logs import get_logger
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import Deployment, Plan
from polyroute.state import StateStore, state_from_config
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, ModelInfo

__all__ = ["DEFAULT_INTERVAL", "LiveRouter", "registry_fingerprint"]

DEFAULT_INTERVAL = 5.0
logger = get_logger("admin.live")


def registry_fingerprint(registry: CredentialsMixin) -> str:
    """What changes whenever a change commits: the audit chain head (``seq:hash``)."""
    with registry.reading() as session:
        head = session.execute(select(AuditHead.seq, AuditHead.hash)
                               .where(AuditHead.id == 1)).one_or_none()
    return f"{head[0]}:{head[1]}" if head is not None else "0:"


@dataclass(eq=False)
class _Slot:
    """One built router and the calls still running on it."""

    router: Router
    fingerprint: str
    inflight: int = 0
    retired: bool = False
    closed: bool = False


class LiveRouter:
    """A ``Router`` over the registry that follows committed changes.

    :param source: a ``Registry`` (or a URL / session factory for one).
    :param base: the config the registry overlays (usually the file's).
    :param interval: seconds between change checks made by calls; ``refresh()``
        checks at once.
    :param clock: monotonic seconds for the interval (tests inject a fake one).
    :param state: the store every router shares (default: the base config's,
        owned and closed by this object).
    :param plugins: the plugin registry each ``Router`` uses (default: every installed one).
    :param router_kwargs: passed to each ``Router`` (``guards``, ``sleep``...). A
        ``transport`` is not shared: each router owns and closes its own, so pass
        ``transport_factory`` instead.
    """

    def __init__(
        self,
        source: CredentialsMixin | Any,
        *,
        base: PolyrouteConfig | None = None,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        state: StateStore | None = None,
        keyring: KeyRing | None = None,
        transport_factory: Callable[[], Any] | None = None,
        plugins: PluginRegistry | None = None,
        **router_kwargs: Any,
    ) -> None:
        from polyroute.admin import Registry

        if not (isinstance(interval, int | float) and interval > 0):
            raise ConfigError(f"interval must be a positive number of seconds, not {interval!r}",
                              field="interval", fix="e.g. interval=5.0")
        self._owns_registry = not isinstance(source, CredentialsMixin)
        self.registry: CredentialsMixin = (
            source if isinstance(source, CredentialsMixin) else Registry(source))
        if keyring is not None:
            self.registry.keyring = keyring
        self.base = base
        self.interval = interval
        self._clock = clock
        self._transport_factory = transport_factory
        self._router_kwargs = {**router_kwargs, "registry": plugins}
        self._lock = threading.Lock()  # guards the slot reference and in-flight counts
        self._refreshing = threading.Lock()  # one rebuild at a time
        self.last_error: Exception | None = None
        """Why the newest registry state was not applied (``None`` once one applies)."""
        self.swaps = 0
        try:
            fingerprint = registry_fingerprint(self.registry)
            config = registry_config(self.registry, base=base)
            self._owns_state = state is None
            self.state = state or state_from_config(config)
            self._slot = _Slot(self._build(config), fingerprint)
        except BaseException:
            if getattr(self, "_owns_state", False) and hasattr(self, "state"):
                self.state.close()
            if self._owns_registry:
                self.registry.close()
            raise
        self._failed: str | None = None
        self._next_check = clock() + interval
        self._closed = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # --- building and swapping ------------------------------------------------------

    def _build(self, config: PolyrouteConfig) -> Router:
        kwargs = dict(self._router_kwargs)
        if self._transport_factory is not None:
            kwargs["transport"] = self._transport_factory()
        return Router(config, state=self.state, **kwargs)

    @property
    def router(self) -> Router:
        """The router new calls use now."""
        return self._slot.router

    @property
    def config(self) -> PolyrouteConfig:
        return self._slot.router.config

    @property
    def fingerprint(self) -> str:
        """The registry state the current router was built from."""
        return self._slot.fingerprint

    def refresh(self, *, force: bool = False) -> bool:
        """Check the registry now; rebuild and swap if it changed. True if it swapped.

        ``force`` rebuilds even when nothing changed (e.g. after an environment
        variable a credential refers to was set) and retries a state that failed.
        """
        with self._refreshing:
            self._next_check = self._clock() + self.interval
            return self._refresh(force=force)

    def _refresh(self, *, force: bool) -> bool:
        if self._closed:
            return False
        try:
            fingerprint = registry_fingerprint(self.registry)
        except Exception as exc:  # the database is away: keep serving what we have
            self.last_error = exc
            logger.warning("registry change check failed; keeping the current router: %s", exc)
            return False
        if not force and fingerprint in (self._slot.fingerprint, self._failed):
            return False
        try:
            router = self._build(self._config())
        except Exception as exc:
            self.last_error, self._failed = exc, fingerprint
            logger.warning("the registry at %s did not build a router; keeping the last good "
                           "one (built at %s): %s", fingerprint, self._slot.fingerprint, exc)
            return False
        with self._lock:
            old, self._slot = self._slot, _Slot(router, fingerprint)
            old.retired = True
            close_now = old.inflight == 0 and not old.closed
            old.closed = old.closed or close_now
        self.last_error, self._failed = None, None
        self.swaps += 1
        logger.info("registry changed (%s -> %s): router swapped", old.fingerprint, fingerprint)
        if close_now:
            old.router.close()
        return True

    def start(self) -> LiveRouter:
        """Check from a background thread every ``interval`` seconds instead of in calls,
        so no call pays for a check or a rebuild. Stopped by ``close()``."""
        if self._watcher is None:
            def watch() -> None:
                while not self._stop.wait(self.interval):
                    try:
                        self.refresh()
                    except Exception as exc:  # never let the watcher die silently
                        logger.warning("live reload check failed: %s", exc)

            self._watcher = threading.Thread(target=watch, name="polyroute-live-reload",
                                             daemon=True)
            self._watcher.start()
        return self

    def _config(self) -> PolyrouteConfig:
        try:
            return registry_config(self.registry, base=self.base)
        except RegistryKeyError:
            # a rotation moved a credential to a key added to the key file after this
            # process read it: read the keys again, once
            if not self.registry.reload_keys():
                raise
            logger.info("a credential needed a key this process had not loaded; keys reloaded")
            return registry_config(self.registry, base=self.base)

    def _due(self) -> bool:
        return self._watcher is None and self._clock() >= self._next_check

    def _maybe_refresh(self) -> None:
        if not self._due() or not self._refreshing.acquire(blocking=False):
            return  # another caller is refreshing: keep serving the current router
        try:
            self._next_check = self._clock() + self.interval
            self._refresh(force=False)
        finally:
            self._refreshing.release()

    async def _amaybe_refresh(self) -> None:
        if self._due():  # the check reads the database: off the event loop
            await asyncio.to_thread(self._maybe_refresh)

    # --- in-flight accounting --------------------------------------------------------

    def _acquire(self) -> _Slot:
        with self._lock:
            if self._closed:
                raise RuntimeError("this LiveRouter is closed")
            slot = self._slot
            slot.inflight += 1
            return slot

    def _done(self, slot: _Slot) -> bool:
        with self._lock:
            slot.inflight -= 1
            if slot.retired and slot.inflight == 0 and not slot.closed:
                slot.closed = True
                return True
            return False

    def _release(self, slot: _Slot) -> None:
        if self._done(slot):
            slot.router.close()

    async def _arelease(self, slot: _Slot) -> None:
        if self._done(slot):
            await slot.router.aclose()

    # --- the router's interface ------------------------------------------------------

    def chat(self, request: ChatRequest) -> ChatResponse:
        self._maybe_refresh()
        slot = self._acquire()
        try:
            return slot.router.chat(request)
        finally:
            self._release(slot)

    async def achat(self, request: ChatRequest) -> ChatResponse:
        await self._amaybe_refresh()
        slot = self._acquire()
        try:
            return await slot.router.achat(request)
        finally:
            await self._arelease(slot)

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        # a generator: nothing is held until the caller starts reading
        self._maybe_refresh()
        slot = self._acquire()
        try:
            yield from slot.router.stream(request)
        finally:
            self._release(slot)

    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        await self._amaybe_refresh()
        slot = self._acquire()
        try:
            async for chunk in slot.router.astream(request):
                yield chunk
        finally:
            await self._arelease(slot)

    def plan(self, request: ChatRequest) -> Plan:
        self._maybe_refresh()
        return self._slot.router.plan(request)

    def model_info(self, dep: Deployment) -> ModelInfo | None:
        return self._slot.router.model_info(dep)

    def health_snapshot(self, *, history: bool = False) -> dict[str, Any]:
        return self._slot.router.health_snapshot(history=history)

    # --- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Close the current router (calls still running finish first) and the shared state."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)  # a check in progress finishes first
        with self._refreshing, self._lock:
            if self._closed:
                return
            self._closed = True
            slot = self._slot
            slot.retired = True
            close_now = slot.inflight == 0 and not slot.closed
            slot.closed = slot.closed or close_now
        if close_now:
            slot.router.close()
        if self._owns_state:
            self.state.close()
        if self._owns_registry:
            self.registry.close()

    def __enter__(self) -> LiveRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LiveRouter at {self._slot.fingerprint} every {self.interval:g}s>"
