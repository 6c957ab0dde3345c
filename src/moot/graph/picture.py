"""Pictures of a workspace's compiled graph: Mermaid text, and SVG or PNG drawn offline.

Both come from the same drawable graph, LangGraph's own `get_graph()` of the compiled graph,
so a picture shows what runs, not a second description of it. Node ids stay LangGraph's; the
labels gain what the node ids do not say: the stage machine on the stage router, and on each
agent its kind, the stages it runs in and the keys it may write (LangGraph's node metadata,
which `draw_mermaid` already prints under the name).

SVG and PNG are drawn by Graphviz's `dot`, run locally. LangGraph's `draw_mermaid_png` is not
used: it sends the graph to the mermaid.ink web service, and moot draws nothing it cannot draw
offline. Without `dot` the error says what to install.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from langchain_core.runnables.graph import Graph

from moot.errors import UsageError
from moot.graph.node import STAGE_ROUTER
from moot.stages.router import TOOL_NODE



class Drawn(Protocol):
    """What a picture reads of a workspace's assembly (`moot.workspace.assembly.Assembly` or a
    `WorkspaceRunner`): the graph compiled for drawing, the workspace, its agents."""

    @property
    def workspace(self) -> Any: ...

    @property
    def agents(self) -> Mapping[str, Any]: ...

    def graph(self, checkpointer: Any = None, *, drawing: bool = False) -> Any: ...


Format = Literal["svg", "png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"


class PictureError(UsageError):
    """A picture could not be drawn here (no renderer, or the renderer failed)."""


def drawable(runtime: Drawn) -> Graph:
    """The compiled graph's drawable form, its nodes labelled with stages and agent roles."""
    graph = runtime.graph(drawing=True).get_graph()
    ws = runtime.workspace
    plan = ws.plan
    for node_id, node in list(graph.nodes.items()):
        extra = _metadata(node_id, runtime, plan)
        if extra:
            graph.nodes[node_id] = node._replace(metadata={**(node.metadata or {}), **extra})
    return graph


def _metadata(node_id: str, runtime: Drawn, plan: Any) -> dict[str, Any]:
    if node_id == STAGE_ROUTER:
        gated = [name for name in plan.order if getattr(plan[name], "approval", False)]
        meta: dict[str, Any] = {"stages": " → ".join(plan.order), "initial": plan.initial, "max_rounds": plan.max_rounds}
        if gated:
            meta["approval"] = gated
        return meta
    if node_id == TOOL_NODE:
        return {"runs": "tool intents over MCP", "servers": sorted(runtime.workspace.spec.mcp_servers)}
    agent = runtime.agents.get(node_id)
    if agent is None:
        return {}
    stages = [name for name in plan.order if node_id in plan[name].agents]
    return {"kind": getattr(agent, "kind", type(agent).__name__), "stages": stages, "writes": list(agent.writes)}


def mermaid(runtime: Drawn) -> str:
    """Mermaid text of the workspace's graph (`moot graph`, `moot workspace graph`)."""
    return drawable(runtime).draw_mermaid()


def dot_source(graph: Graph, *, title: str = "") -> str:
    """Graphviz DOT of a drawable graph: the same nodes, edges and labels as its Mermaid text."""
    lines = [
        "digraph moot {",
        f'  graph [rankdir=TB, labelloc=t, fontsize=14, label="{_esc(title)}"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", fontsize=11];',
        "  edge [fontsize=9];",
    ]
    first, last = graph.first_node(), graph.last_node()
    for node_id, node in graph.nodes.items():
        label = [node.name.split(":")[-1]] + [f"{k}: {_value(v)}" for k, v in (node.metadata or {}).items()]
        attrs = [f'label="{_esc_lines(label)}"']
        if first is not None and node_id == first.id:
            attrs.append('shape=oval, fillcolor="white"')
        elif last is not None and node_id == last.id:
            attrs.append('shape=oval, fillcolor="#bfb6fc"')
        elif node_id == STAGE_ROUTER:
            attrs.append('shape=box, style="filled", fillcolor="#e2ddff"')
        lines.append(f'  "{_esc(node_id)}" [{", ".join(attrs)}];')
    for edge in graph.edges:
        attrs = ["style=dashed"] if edge.conditional else []
        if edge.data is not None:
            attrs.append(f'label="{_esc(str(edge.data))}"')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f'  "{_esc(edge.source)}" -> "{_esc(edge.target)}"{suffix};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph: Graph, fmt: Format, *, title: str = "", timeout: float = 60.0) -> bytes:
    """Draw `graph` as SVG or PNG with Graphviz's `dot`, locally; the bytes are checked."""
    if fmt not in ("svg", "png"):
        raise PictureError(f"cannot draw {fmt!r}; moot draws svg or png")
    dot = shutil.which("dot")
    if dot is None:
        raise PictureError(f"drawing {fmt.upper()} needs Graphviz's `dot` command, which is not on PATH; {INSTALL_HINT}")
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}"], input=dot_source(graph, title=title).encode("utf-8"), capture_output=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise PictureError(f"Graphviz `dot` did not finish drawing the {fmt.upper()} in {timeout:.0f}s") from exc
    data = done.stdout
    valid = data.startswith(PNG_SIGNATURE) if fmt == "png" else b"<svg" in data[:2048]
    if done.returncode != 0 or not valid:
        why = done.stderr.decode("utf-8", errors="replace").strip() or f"exit code {done.returncode}, no {fmt} output"
        raise PictureError(f"Graphviz `dot` could not draw the {fmt.upper()}: {why}")
    return data


def write_picture(runtime: Drawn, path: str | Path, fmt: Format) -> Path:
    """Draw the workspace's graph into `path` (SVG or PNG)."""
    target = Path(path)
    data = render(drawable(runtime), fmt, title=f"workspace {runtime.workspace.name}")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise PictureError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def _value(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple, set)) else str(value)


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _esc_lines(lines: list[str]) -> str:
    return "\\n".join(_esc(line) for line in lines)


__all__ = ["Format", "PictureError", "dot_source", "drawable", "mermaid", "render", "write_picture"]
