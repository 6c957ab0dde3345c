"""A run's fresh world: a temporary folder with its own checkpoints, ledger and built-in servers' files.

Every task run of an eval starts from nothing, so one task's bookings are never another's sold-out
hotel and a repeat measures the model, not the inventory the last repeat left behind. The runtime
(and so its models) is shared; per run only the store and the tool sessions are new, exactly as
`moot run --db` opens them (`WorkspaceRunner.open_store_and_tools`), with `builtin_servers(folder)`
putting the travel inventory and the review desk's files in the folder too. Servers outside moot
(`command:` or `url:`) keep their own state: an eval cannot reset them.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from langgraph.checkpoint.base import BaseCheckpointSaver

from moot.persistence import RunIndex
from moot.workspace.runner import WorkspaceRunner
from moot.builtin.servers import builtin_servers
from moot.tools.runtime import EventSink
from moot.tools.types import ToolOutcome, ToolSpec


class Tools(Protocol):
    """What an eval uses of a `ToolRuntime`: list, check and call tools."""

    def tools(self) -> list[ToolSpec]: ...

    def tool(self, name: str) -> ToolSpec: ...

    def validate(self, tool: str, arguments: Any) -> None: ...

    async def call(
        self, tool: str, arguments: Mapping[str, Any], *, key: str, on_event: EventSink | None = None
    ) -> ToolOutcome: ...


@dataclass(frozen=True)
class Sandbox:
    """One run's folder, checkpointer, run index and tools (None: the workspace has no servers)."""

    folder: Path
    saver: BaseCheckpointSaver
    index: RunIndex
    tools: Tools | None


@asynccontextmanager
async def open_sandbox(runtime: WorkspaceRunner) -> AsyncIterator[Sandbox]:
    """A fresh sandbox for the life of the block; the folder is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="moot-eval-") as tmp:
        folder = Path(tmp)
        async with runtime.open_store_and_tools(db=folder / "moot.db", builtins=builtin_servers(folder)) as (saver, index):
            # open_tools puts the ToolRuntime there (typed as the tool node's narrower ToolCaller)
            yield Sandbox(folder, saver, index, cast("Tools | None", runtime.tools))


class NoTools:
    """The tools of a workspace without MCP servers: every name is unknown."""

    def tool(self, name: str) -> ToolSpec:
        from moot.tools.errors import UnknownToolError

        raise UnknownToolError(name, [])

    def validate(self, tool: str, arguments: Any) -> None:
        self.tool(tool)


__all__ = ["NoTools", "Sandbox", "Tools", "open_sandbox"]
