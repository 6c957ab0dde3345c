"""A workspace runtime: the workspace, its chat models and its compiled graph, built once.

Long-lived and shared by every session of the workspace (design §1): agents hold no session
data, models load once, the graph compiles once per checkpointer. Per request only an
`Orchestrator` run and its state are new.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from moot.events import EventBus
from moot.graph.builder import build_graph
from moot.models.factory import make_models
from moot.orchestrator import Durability, Orchestrator
from moot.persistence import RunIndex
from moot.workspace.loader import Workspace, load_workspace


class Runtime:
    """Everything a workspace needs to run deliberations."""

    def __init__(self, workspace: Workspace, models: Mapping[str, BaseChatModel]) -> None:
        self.workspace = workspace
        self.models = dict(models)

    @classmethod
    def load(
        cls,
        workspace: str | Path | None = None,
        *,
        models: Mapping[str, BaseChatModel] | None = None,
        model_override: str | None = None,
    ) -> Runtime:
        """Load a workspace (built-in name or folder) and make its models (or use `models`)."""
        ws = load_workspace(workspace)
        if models is None:
            specs = {name: spec.model_dump() for name, spec in ws.spec.models.items()}
            models = make_models(specs, root=ws.root, override=model_override)
        return cls(ws, models)

    def graph(self, checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
        ws = self.workspace
        return build_graph(
            ws.agents,
            ws.plan,
            ws.policy,
            self.models,
            checkpointer=checkpointer,
            max_repairs=ws.spec.max_repairs,
            token_budget=ws.spec.limits.token_budget,
            name=ws.name,
        )

    def orchestrator(
        self,
        checkpointer: BaseCheckpointSaver | None = None,
        *,
        index: RunIndex | None = None,
        bus: EventBus | None = None,
        durability: Durability = "sync",
    ) -> Orchestrator:
        limits = self.workspace.spec.limits
        return Orchestrator(
            self.graph(checkpointer),
            workspace=self.workspace.name,
            bus=bus,
            index=index,
            durability=durability,
            recursion_limit=limits.recursion_limit,
            task_max_chars=limits.task_max_chars,
            workspace_path=str(self.workspace.root),
            prices={name: price.model_dump() for name, price in self.workspace.spec.prices.items()},
        )


__all__ = ["Runtime"]
