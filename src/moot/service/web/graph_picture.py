"""The stage graph of a workspace version as inline SVG, drawn once per version.

Drawn like `moot workspace graph --svg` (moot.graph.picture: LangGraph's own drawable graph,
Graphviz `dot` run locally), then each node's `<g>` gains `data-node="<node id>"`, so the live
page can highlight the agent that is working by its name. A version's files never change, so its
picture is cached by hash for the life of the process. Without `dot` the page says so instead.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from moot.graph.picture import PictureError, drawable, render

_CACHE: dict[str, str] = {}
_LIMIT = 64
_NODE = re.compile(r'<g id="(node\d+)" class="node">\s*<title>([^<]*)</title>')
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.S)


def _tagged(svg: str) -> str:
    """The SVG without its XML prolog, its nodes tagged with their ids (as `dot` titled them)."""
    svg = _XML_HEAD.sub("", svg, count=1)
    return _NODE.sub(lambda m: f'<g id="{m.group(1)}" class="node" data-node="{m.group(2)}">\n<title>{m.group(2)}</title>', svg)


async def graph_svg(version: Any) -> tuple[str | None, str | None]:
    """(SVG text, None) for a `WorkspaceVersion`, or (None, why it cannot be drawn here)."""
    key = version.hash
    if key in _CACHE:
        return _CACHE[key], None
    try:
        data = await asyncio.to_thread(render, drawable(version.assembly), "svg", title=f"workspace {version.workspace.name}")
    except PictureError as exc:
        return None, str(exc)
    if len(_CACHE) >= _LIMIT:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = svg = _tagged(data.decode("utf-8"))
    return svg, None


__all__ = ["graph_svg"]
