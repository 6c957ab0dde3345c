"""The web page of `moot serve`: watch and steer deliberations in a browser.

Server-rendered (FastAPI + Jinja2) with one small hand-written JavaScript module over
`EventSource` for what changes while a run goes on; every asset ships inside this package, so
the page works with no network and no build step. Pages live under `/ui/` (the root `/` is the
runs page) because the LangGraph API owns `/runs` and `/threads` at the root.

The page reads the same ServiceContext as `/v1` (sessions, run index, event log, workspace hub,
memory), scoped by the viewer's tenant; it never calls the API over HTTP. Who the viewer is:
`moot.service.web.auth` (a login cookie when keys are configured, loopback only without).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from moot.service.web.pages import routers
from moot.service.web.refusals import install_auth

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the page's static assets, its login and its pages on `app`."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    install_auth(app)
    for router in routers():
        app.include_router(router, include_in_schema=False)


__all__ = ["install"]
