"""The service's singletons, built once per process (API lifespan or worker start-up) and shared.

Chat models, the embedder, the stores, the Redis pool and the MCP clients are expensive and hold
connections; requests and jobs only borrow them. A fresh Orchestrator is made per run by the
workspace's WorkspaceManager. The same context serves an API process and a `moot worker`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel

from moot.events import EventBus
from moot.service.jobs import InProcessLeases, Leases, RedisLeases, RunExecutor
from moot.service.settings import ServiceSettings
from moot.telemetry.metrics import observe_runs

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from moot.logs import WorkspaceLogs
    from moot.memory.manager import MemoryManager
    from moot.persistence import Persistence
    from moot.service.keys import KeyStore
    from moot.service.protocols import JobQueue, RunEvents, Sessions
    from moot.workspace.hub import WorkspaceHub
    from moot.workspace.reload import ReloadManager

log = logging.getLogger("moot.service")


class ServiceContext:
    """Everything a request or a run job needs, opened by `start()` and closed by `aclose()`.

    The attributes without a default (`persistence`, `keys`, `sessions`, `events`, `hub`,
    `queue`, `executor`) exist once `start()` has returned; the optional ones stay None when the
    settings turn their service off (no Redis, no memory, no reload).
    """

    persistence: Persistence
    keys: KeyStore
    sessions: Sessions
    events: RunEvents
    hub: WorkspaceHub
    queue: JobQueue
    executor: RunExecutor

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        worker: str | None = None,
        models: Mapping[str, BaseChatModel] | None = None,
        memory_model: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings
        self.worker = worker or f"api-{uuid.uuid4().hex[:8]}"
        self.models = models
        """Chat models for every workspace (tests pass scripted ones); None: from each workspace."""
        self.memory_model = memory_model
        """The chat model that extracts semantic memories; None: from `settings.memory_model`."""
        self.in_progress_timeout_s = settings.limits.run_timeout_s + 70
        self._stack = AsyncExitStack()
        self.redis: Redis | None = None
        self.leases: Leases = InProcessLeases(settings.lease_s)
        self.memory: MemoryManager | None = None
        self.reloader: ReloadManager | None = None
        self.bus = EventBus()
        """Service-wide events (workspace reloads); runs have a bus each."""
        self._logs: dict[str, WorkspaceLogs] = {}

    async def start(self) -> ServiceContext:
        from moot.persistence import open_persistence
        from moot.service.events import event_log
        from moot.service.jobs import ArqQueue, InlineQueue
        from moot.service.keys import key_store
        from moot.service.sessions import session_control
        from moot.workspace.hub import WorkspaceHub

        s = self.settings
        stack = self._stack
        try:
            if s.redis_url:
                from redis.asyncio import Redis

                self.redis = Redis.from_url(s.redis_url)
                stack.push_async_callback(self.redis.aclose)
                await self.redis.ping()
                self.leases = RedisLeases(self.redis, s.lease_s, prefix=s.key_prefix)
            self.persistence = await stack.enter_async_context(open_persistence(s.database_url))
            self.keys = key_store(s.database_url)
            stack.push_async_callback(self.keys.aclose)
            self.sessions = session_control(s.redis_url, default_ttl_s=s.limits.session_ttl_s, prefix=s.key_prefix)
            stack.push_async_callback(self.sessions.aclose)
            self.events = event_log(s.redis_url, prefix=s.key_prefix)
            stack.push_async_callback(self.events.aclose)
            if s.memory:
                self.memory = await stack.enter_async_context(_memory(s, self.memory_model))
            self.hub = WorkspaceHub(
                s.workspaces,
                models=self.models,
                model_override=s.model_override,
                memory=self.memory,
                checkpointer=self.persistence.checkpointer,
                ledger=self.persistence.ledger,
                bus=self.bus,
            )
            stack.push_async_callback(self.hub.aclose)
            stack.callback(observe_runs(self.bus))  # the hub's bus: workspace reloads
            self.executor = RunExecutor(
                self.worker,
                index=self.persistence.index,
                leases=self.leases,
                events=self.events,
                workspaces=self.hub,
                sessions=self.sessions,
                observe=self.observe,
                timeout_s=s.limits.run_timeout_s,
            )
            if s.queue == "arq":
                self.queue = await ArqQueue.connect(s)
            else:
                self.queue = InlineQueue(self.executor)
            stack.push_async_callback(self.queue.aclose)
            if s.reload:
                from moot.workspace.reload import ReloadManager

                self.reloader = await stack.enter_async_context(ReloadManager(self.hub))
        except BaseException:
            await stack.aclose()
            raise
        return self

    async def aclose(self) -> None:
        for logs in self._logs.values():
            logs.close()
        await self._stack.aclose()

    def observe(self, bus: EventBus, workspace: str) -> Callable[[], None]:
        """Attach the workspace's logs and the memory recorder to a run's bus; returns a detacher."""
        detachers: list[Callable[[], None]] = []
        logs = self._workspace_logs(workspace)
        if logs is not None:
            detachers.append(logs.attach(bus))
        if self.memory is not None:
            self.memory.observe(bus)  # the bus is the run's and goes with it: nothing to detach
        detachers.append(observe_runs(bus))

        def detach_all() -> None:
            for detach in detachers:
                detach()

        return detach_all

    def _workspace_logs(self, workspace: str) -> WorkspaceLogs | None:
        if workspace not in self._logs:
            try:
                from moot.logs import WorkspaceLogs
            except ImportError:  # pragma: no cover - logs are part of the package
                return None
            self._logs[workspace] = WorkspaceLogs(workspace)
        return self._logs[workspace]

    async def ready(self) -> dict[str, str]:
        """Readiness of each backing service: "ok" or the error."""
        checks: dict[str, str] = {}
        if self.redis is not None:
            try:
                await self.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"{type(exc).__name__}: {exc}"
        try:
            await self.persistence.index.latest(1)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"{type(exc).__name__}: {exc}"
        return checks


def _memory(settings: ServiceSettings, model: BaseChatModel | None = None) -> AbstractAsyncContextManager[MemoryManager]:
    """The process's MemoryManager over every layer.

    Episodic records go to Redis in a fleet (in process otherwise); semantic and procedural
    memory live in a LangGraph store: PostgreSQL with the fleet's database, else a snapshot
    file under `$MOOT_HOME/service/memory`. Semantic *extraction* needs a capable chat model
    (`MOOT_MEMORY_MODEL`, e.g. `openai:gpt-4o-mini`); without one, memories can still be
    listed, searched and deleted, and procedural rules still reach the agents' prompts.
    """
    from moot.memory.setup import open_memory
    from moot.persistence import resolve
    from moot.settings import moot_home

    backend, target = resolve(settings.database_url)
    return open_memory(
        moot_home() / "service" / "memory",
        model=model if model is not None else _memory_model(settings.memory_model),
        redis_url=settings.redis_url,
        key_prefix=settings.key_prefix,
        postgres_dsn=target if backend == "postgres" else None,
    )


def _memory_model(spec: str | None) -> BaseChatModel | None:
    if not spec:
        return None
    from moot.models.factory import make_model, parse_override

    return make_model(parse_override(spec), name="memory")


__all__ = ["ServiceContext"]
