"""Workspaces (`/ui/workspaces`, `/ui/workspaces/{name}`): the list; a workspace's files, versions
with a diff between two, its graph as a picture, validation problems and hot-reload status.

Workspaces are named, never addressed by a server path (as `/v1/workspaces`): a name that is not
one of the hub's is a 404 page. Files are shown as text, read-only. The picture is the SVG of
`moot workspace graph --svg` (`moot.service.web.graph_picture`, shared with the run page), served as an image.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from moot.errors import MootError
from moot.service.routes.common import ctx_of
from moot.service.web.auth import Viewer, viewer
from moot.service.web.graph_picture import graph_svg
from moot.service.web.lookups import not_found
from moot.service.web.templating import page
from moot.service.web.workspace_view import diff, find, view

router = APIRouter()


@router.get("/ui/workspaces")
async def workspaces_page(request: Request, who: Viewer = Depends(viewer)) -> Response:
    hub = ctx_of(request).hub
    loaded = {m.name: m for m in hub.loaded}
    rows = [(name, loaded.get(name)) for name in hub.names()]
    return page(request, "workspaces.html", who, section="workspaces", rows=rows)


@router.get("/ui/workspaces/{name}")
async def workspace_page(request: Request, name: str, who: Viewer = Depends(viewer)) -> Response:
    ctx = ctx_of(request)
    if name not in ctx.hub.names():
        return not_found(request, who, "workspace", name, section="workspaces")
    shown = await view(ctx, name)
    query = request.query_params
    old_id, new_id = query.get("from", ""), query.get("to", "")
    error, patch = None, None
    if "from" in query or "to" in query:
        old, new = find(shown.versions, old_id), find(shown.versions, new_id)
        if old is None or new is None:
            which = ", ".join(repr(v[:16]) for v, found in ((old_id, old), (new_id, new)) if found is None)
            error = f"No version {which} of this workspace: choose two from the list."
        else:
            patch = diff(old, new)
    if not old_id and len(shown.versions) > 1:
        old_id, new_id = shown.versions[1].short, shown.versions[0].short
    return page(
        request, "workspace.html", who, section="workspaces", ws=shown, error=error, patch=patch,
        old_id=old_id, new_id=new_id, status_code=422 if error else 200,
    )


@router.get("/ui/workspaces/{name}/graph.svg")
async def workspace_graph(request: Request, name: str, who: Viewer = Depends(viewer)) -> Response:
    hub = ctx_of(request).hub
    if name not in hub.names():
        return Response("no such workspace", status_code=404, media_type="text/plain")
    try:
        svg, why = await graph_svg((await hub.get(name)).current)
    except MootError as exc:
        return Response(f"the workspace does not load: {exc}", status_code=409, media_type="text/plain")
    if svg is None:  # no Graphviz here
        return Response(why or "the graph cannot be drawn here", status_code=503, media_type="text/plain")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})


__all__ = ["router"]
