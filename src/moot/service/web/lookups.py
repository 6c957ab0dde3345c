"""What the page's lookups share: the viewer as the API's principal, a tenant's run or session, a 404 page.

The page answers another tenant's id exactly as an unknown one (a 404 page), as `/v1` does, by
calling the same lookups `/v1` calls (`moot.service.routes.common`) with the viewer's tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from starlette.responses import Response

from moot.service.auth import Principal
from moot.service.problems import ApiError
from moot.service.routes.common import run_of, session_of
from moot.service.web.auth import Viewer
from moot.service.web.templating import page

if TYPE_CHECKING:
    from moot.persistence import RunRecord
    from moot.service.sessions import Session


def principal_of(who: Viewer) -> Principal:
    """The viewer as the API's `Principal`, for the service functions the page shares with `/v1`."""
    assert who.tenant is not None  # pages depend on `viewer`, which only returns a signed-in viewer
    return Principal(who.tenant, who.key_id)


async def run_record(request: Request, who: Viewer, run_id: str) -> RunRecord | None:
    """The tenant's run, or None (unknown, malformed and another tenant's look the same)."""
    try:
        return await run_of(request, principal_of(who), run_id)
    except ApiError:
        return None


async def session_record(request: Request, who: Viewer, session_id: str) -> Session | None:
    """The tenant's live session, or None (unknown, expired and another tenant's look the same)."""
    try:
        return await session_of(request, principal_of(who), session_id)
    except ApiError:
        return None


def not_found(request: Request, who: Viewer, what: str, ident: str, *, section: str = "") -> Response:
    """The 404 page: no such `what` for this tenant (it never says whether another tenant has one)."""
    message = f"There is no {what} {ident[:128]!r} here: it may have expired, or the address is wrong."
    return page(request, "missing.html", who, section=section, message=message, status_code=404)


__all__ = ["not_found", "principal_of", "run_record", "session_record"]
