"""Rendering a page: the package's Jinja2 templates, with what every page needs in its context.

Autoescaping is on for every template (Jinja2Templates' default for .html), so text from a
model, a task or a memory is shown, never interpreted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from moot.service.web.auth import Viewer, csrf_token

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
"""`tojson` shows text as written (a decision's "×", a city's "ã") and keys in their order."""


def timestamp(value: float | None) -> str:
    """Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC (the `timestamp` filter of the templates); "" for none."""
    if not value:
        return ""
    return datetime.fromtimestamp(float(value), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["timestamp"] = timestamp

NAV = (("runs", "Runs", "/"), ("sessions", "Sessions", "/ui/sessions"), ("workspaces", "Workspaces", "/ui/workspaces"))
"""The top navigation: (section key, label, address)."""


def page(request: Request, template: str, viewer: Viewer, *, section: str = "", status_code: int = 200, **context: Any) -> Response:
    """`template` rendered for `viewer`: with its tenant, a CSRF token for its forms and the nav."""
    data = {"viewer": viewer, "csrf": csrf_token(request, viewer), "nav": NAV, "section": section, **context}
    return templates.TemplateResponse(request, template, data, status_code=status_code)


__all__ = ["NAV", "page", "templates", "timestamp"]
