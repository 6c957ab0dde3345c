"""Request and response bodies of the LangGraph API, in the shapes of `langgraph_sdk.schema`.

The clients are the contract: `langgraph_sdk` reads these fields by name (`thread["thread_id"]`,
`state["checkpoint"]["checkpoint_id"]`, ...), so the names and nesting follow its TypedDicts,
not moot's own /v1 bodies. Requests accept unknown fields (newer clients send more than this
server uses, and must not be refused for it); times go out as ISO 8601 with a zone, as the
official server sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
SortOrder = Literal["asc", "desc"]


def iso(ts: float) -> datetime:
    """A Unix time as an aware datetime (pydantic writes it as ISO 8601, as LangGraph does)."""
    return datetime.fromtimestamp(ts, tz=UTC)


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- assistants -----------------------------------------------------------------------------


class Assistant(BaseModel):
    """A workspace, seen as an assistant: `assistant_id` = `graph_id` = the workspace's name."""

    assistant_id: str
    graph_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    version: int = 1
    name: str
    description: str | None = None


class AssistantSearch(_Request):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: SortOrder | None = None


class AssistantCount(_Request):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)


class GraphSchema(BaseModel):
    graph_id: str
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    state_schema: dict[str, Any] | None = None
    config_schema: dict[str, Any] | None = None
    context_schema: dict[str, Any] | None = None


# -- threads --------------------------------------------------------------------------------


class Interrupt(BaseModel):
    value: Any = None
    id: str


class Thread(BaseModel):
    """A session, seen as a thread; `metadata.graph_id` is its workspace once it is bound."""

    thread_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    status: ThreadStatus
    values: dict[str, Any] | None = None
    interrupts: dict[str, list[Interrupt]] = Field(default_factory=dict)


class ThreadCreate(_Request):
    thread_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


class ThreadPatch(_Request):
    metadata: dict[str, Any] = Field(default_factory=dict)


class ThreadSearch(_Request):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = Field(default=None, max_length=1000)
    status: ThreadStatus | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=100_000)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: SortOrder | None = None


class ThreadCount(_Request):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


# -- state ----------------------------------------------------------------------------------


class Checkpoint(BaseModel):
    """Where a state lives: LangGraph's checkpoint coordinates (`checkpoint_map` for subgraphs)."""

    model_config = ConfigDict(extra="ignore")

    thread_id: str
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class CheckpointRef(BaseModel):
    """A checkpoint as a client names one (the thread comes from the path, so it is optional)."""

    model_config = ConfigDict(extra="ignore")

    thread_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = Field(default=None, max_length=128)
    checkpoint_map: dict[str, Any] | None = None


class ThreadTask(BaseModel):
    id: str
    name: str
    error: str | None = None
    interrupts: list[Interrupt] = Field(default_factory=list)
    checkpoint: Checkpoint | None = None
    state: ThreadState | None = None
    result: dict[str, Any] | None = None


class ThreadState(BaseModel):
    """One checkpoint of a thread, as `client.threads.get_state` and `get_history` return it."""

    values: dict[str, Any] | list[Any]
    next: list[str]
    checkpoint: Checkpoint
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_checkpoint: Checkpoint | None = None
    tasks: list[ThreadTask] = Field(default_factory=list)
    interrupts: list[Interrupt] = Field(default_factory=list)
    checkpoint_id: str | None = None
    """Deprecated in LangGraph's schema, still read by older clients: `checkpoint.checkpoint_id`."""
    parent_checkpoint_id: str | None = None


class StateAt(_Request):
    checkpoint: CheckpointRef
    subgraphs: bool = False


class StateUpdate(_Request):
    values: dict[str, Any] | None = None
    checkpoint_id: str | None = Field(default=None, max_length=128)
    checkpoint: CheckpointRef | None = None
    as_node: str | None = Field(default=None, max_length=128)


class StateUpdated(BaseModel):
    checkpoint: Checkpoint


class HistoryQuery(_Request):
    limit: int = Field(default=10, ge=1, le=1000)
    before: str | CheckpointRef | None = None
    metadata: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], Any] | None = Field(
        default=None, max_length=16, description="Checkpoint metadata to match; keys are names (the saver queries them as JSON paths)."
    )
    checkpoint: CheckpointRef | None = None


# -- store ----------------------------------------------------------------------------------

Label = str


class Item(BaseModel):
    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SearchItem(Item):
    score: float | None = None


class SearchItems(BaseModel):
    items: list[SearchItem]


class Namespaces(BaseModel):
    namespaces: list[list[str]]


class ItemPut(_Request):
    namespace: list[Label] = Field(min_length=1, max_length=16)
    key: str = Field(min_length=1, max_length=256)
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None


class ItemDelete(_Request):
    namespace: list[Label] = Field(min_length=1, max_length=16)
    key: str = Field(min_length=1, max_length=256)


class ItemSearch(_Request):
    namespace_prefix: list[Label] = Field(default_factory=list, max_length=16)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=100_000)
    query: str | None = Field(default=None, max_length=10_000)
    refresh_ttl: bool | None = None


class NamespaceSearch(_Request):
    prefix: list[Label] | None = Field(default=None, max_length=16)
    suffix: list[Label] | None = Field(default=None, max_length=16)
    max_depth: int | None = Field(default=None, ge=1, le=16)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=100_000)


ThreadTask.model_rebuild()

__all__ = [
    "Assistant", "AssistantCount", "AssistantSearch", "Checkpoint", "CheckpointRef", "GraphSchema", "HistoryQuery",
    "Interrupt", "Item", "ItemDelete", "ItemPut", "ItemSearch", "NamespaceSearch", "Namespaces", "SearchItem",
    "SearchItems", "SortOrder", "StateAt", "StateUpdate", "StateUpdated", "Thread", "ThreadCount", "ThreadCreate",
    "ThreadPatch", "ThreadSearch", "ThreadState", "ThreadStatus", "ThreadTask", "iso",
]
