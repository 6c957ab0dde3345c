"""The picture of a workspace's graph as SVG, for the page: the same drawing as `moot workspace graph --svg`.

Drawn by `moot.graph.picture` (Graphviz's `dot`, run locally: the page fetches nothing from the
network), from the compiled graph of one version of the workspace. A version never changes once
built, so its SVG is drawn once and kept, keyed by the version hash; `dot` runs in a thread, so a
drawing never stalls the event loop. Node ids in the SVG are the graph's (`<title>` of each
`<g class="node">`), which is what a live run page needs to highlight the current stage and agent.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

from moot.graph.picture import PictureError, drawable, render

if TYPE_CHECKING:
    from moot.workspace.manager import WorkspaceManager
    from moot.workspace.version import WorkspaceVersion

_CACHE: OrderedDict[str, str] = OrderedDict()
_KEEP = 32
"""Drawings kept (one per workspace version; a few kilobytes each)."""


async def graph_svg(manager: WorkspaceManager, version: WorkspaceVersion | None = None) -> str:
    """The SVG of `version` (default: the current one) of the workspace; PictureError without `dot`."""
    held = version or manager.current
    if held.hash in _CACHE:
        _CACHE.move_to_end(held.hash)
        return _CACHE[held.hash]
    data = await asyncio.to_thread(render, drawable(held.assembly), "svg", title=f"workspace {held.name}")
    text = data.decode("utf-8", errors="replace")
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG can be inlined in HTML
    _CACHE[held.hash] = text
    while len(_CACHE) > _KEEP:
        _CACHE.popitem(last=False)
    return text


__all__ = ["PictureError", "graph_svg"]
