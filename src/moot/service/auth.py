"""Who is calling: an API key maps to a tenant; every query is scoped by that tenant.

Keys travel as `Authorization: Bearer <key>` (or `X-API-Key: <key>`) and are checked against
their hashes in the KeyStore (moot.service.keys). A server started with no active key runs in
*open* mode: one tenant, `local`, and `moot serve` binds to 127.0.0.1 only, so an unprotected
service is never reachable from another machine. Create a key (`moot keys create --tenant T`)
and restart to require keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from moot.service.problems import ApiError

LOCAL_TENANT = "local"

bearer = HTTPBearer(auto_error=False, description="An API key from `moot keys create`.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same API key, as a header.")


@dataclass(frozen=True)
class Principal:
    """The caller: its tenant, and the key it used (None in open mode)."""

    tenant: str
    key_id: str | None = None


async def principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    header_key: str | None = Depends(api_key_header),
) -> Principal:
    """The FastAPI dependency of every scoped route (its security schemes appear in OpenAPI)."""
    ctx = request.app.state.ctx
    presented = credentials.credentials if credentials else header_key
    if not request.app.state.keys_required:
        if presented:
            # a key sent to an open server is still checked: a typo must not silently pass
            info = await ctx.keys.verify(presented)
            if info is None:
                raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked")
            return Principal(info.tenant, info.key_id)
        return Principal(LOCAL_TENANT)
    if not presented:
        raise ApiError(
            401, "missing_api_key", "this server requires an API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    info = await ctx.keys.verify(presented)
    if info is None:
        raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"})
    return Principal(info.tenant, info.key_id)


__all__ = ["LOCAL_TENANT", "Principal", "principal"]
