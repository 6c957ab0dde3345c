"""The LangGraph store API over moot's semantic memory store, one tenant at a time.

Items live in the same LangGraph `BaseStore` as the users' semantic memories, so a client sees
what moot remembers of a user under `["memories", <user_id>]`, exactly where `SemanticMemory`
keeps it. The tenant is folded into the second label, as moot's memory already does for users
(`user_key(scoped_user(tenant, user))`): the client writes `[a, b, *rest]` and the store holds
`(a, "<tenant>%3A<b>", *rest)` (`[a]` alone holds `(a, "<tenant>%3A")`). A client therefore
never sees or names another tenant's namespace: those decode to another tenant and are skipped,
and an item of another tenant is as unknown as a missing one (404). Labels may not hold `.`
(LangGraph's rule) and the second may not hold `:` (it would make the decoding ambiguous).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from fastapi import Depends, Query, Request, Response

from moot.memory.semantic.kinds import user_key
from moot.service.auth import Principal, principal
from moot.service.jobs import scoped_user
from moot.service.langgraph_api.errors import LangGraphError, langgraph_router
from moot.service.langgraph_api.shapes import (
    Item,
    ItemDelete,
    ItemPut,
    ItemSearch,
    Namespaces,
    NamespaceSearch,
    SearchItem,
    SearchItems,
)
from moot.service.routes.common import ctx_of

if TYPE_CHECKING:
    from langgraph.store.base import BaseStore
    from langgraph.store.base import Item as StoreItem

router = langgraph_router()

SCAN_LIMIT = 10_000
"""How many stored items or namespaces a search across users reads at most (the tenant's share is filtered)."""


def _store(request: Request) -> BaseStore:
    memory = ctx_of(request).memory
    if memory is None or memory.semantic is None:
        raise LangGraphError(404, "this server runs without memory, so it has no store (start it with memory on)")
    return memory.semantic.store


def _check(namespace: list[str]) -> list[str]:
    for i, label in enumerate(namespace):
        if not label or "." in label or not label.isprintable():
            raise LangGraphError(422, f"namespace label {i} ({label[:40]!r}) must be non-empty printable text without '.'")
    if len(namespace) > 1 and ":" in namespace[1]:
        raise LangGraphError(422, f"namespace label 1 ({namespace[1][:40]!r}) may not hold ':'")
    return namespace


def stored(tenant: str, namespace: list[str]) -> tuple[str, ...]:
    """Where the store keeps the tenant's `namespace` (checked)."""
    ns = _check(namespace)
    return (ns[0], user_key(scoped_user(tenant, ns[1] if len(ns) > 1 else "")), *ns[2:])


def seen(tenant: str, namespace: tuple[str, ...]) -> list[str] | None:
    """The tenant's view of a stored namespace; None when it is not the tenant's (or not a client's)."""
    if len(namespace) < 2 or not namespace[1].startswith(user_key(scoped_user(tenant, ""))):
        return None
    owner, _, user = unquote(namespace[1]).rpartition(":")
    if owner != tenant:
        return None
    if not user:
        return [namespace[0]] if len(namespace) == 2 else None
    return [namespace[0], user, *namespace[2:]]


def _item(view: list[str], item: StoreItem) -> SearchItem:
    return SearchItem(
        namespace=view, key=item.key, value=dict(item.value), created_at=item.created_at, updated_at=item.updated_at,
        score=getattr(item, "score", None),
    )


@router.put("/store/items", status_code=204, response_class=Response)
async def put_item(body: ItemPut, request: Request, who: Principal = Depends(principal)) -> Response:
    """Store or replace an item in one of the tenant's namespaces."""
    store = _store(request)
    where = stored(who.tenant, body.namespace)
    try:
        if body.ttl is None:
            await store.aput(where, body.key, body.value, index=body.index)
        else:
            await store.aput(where, body.key, body.value, index=body.index, ttl=body.ttl)
    except NotImplementedError:
        raise LangGraphError(422, "this server's store does not expire items: leave out ttl") from None
    return Response(status_code=204)


@router.get("/store/items", response_model=Item)
async def get_item(
    request: Request,
    key: str = Query(min_length=1, max_length=256),
    namespace: str = Query(min_length=1, max_length=2048, description="The namespace's labels joined by '.'"),
    refresh_ttl: bool | None = None,
    who: Principal = Depends(principal),
) -> SearchItem:
    view = namespace.split(".")
    found = await _store(request).aget(stored(who.tenant, view), key, refresh_ttl=refresh_ttl)
    if found is None:
        raise LangGraphError(404, f"Item {key!r} not found in namespace {view}")
    return _item(view, found)


@router.delete("/store/items", status_code=204, response_class=Response)
async def delete_item(body: ItemDelete, request: Request, who: Principal = Depends(principal)) -> Response:
    """Delete an item (deleting a missing one is not an error, as in LangGraph's store)."""
    await _store(request).adelete(stored(who.tenant, body.namespace), body.key)
    return Response(status_code=204)


@router.post("/store/items/search", response_model=SearchItems)
async def search_items(body: ItemSearch, request: Request, who: Principal = Depends(principal)) -> SearchItems:
    """The tenant's items under `namespace_prefix`, by `filter` on their values and `query` by meaning."""
    store = _store(request)
    prefix = _check(body.namespace_prefix)
    if len(prefix) >= 2:  # one user's namespaces: the store pages for us
        found = await store.asearch(
            stored(who.tenant, prefix), query=body.query, filter=body.filter, limit=body.limit, offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )
        return SearchItems(items=[_item(seen(who.tenant, f.namespace) or [], f) for f in found])
    # across users: read the stored prefix and keep the tenant's share, in the store's order
    raw = await store.asearch(tuple(prefix), query=body.query, filter=body.filter, limit=SCAN_LIMIT)
    mine = [(view, f) for f in raw if (view := seen(who.tenant, f.namespace)) is not None]
    return SearchItems(items=[_item(view, f) for view, f in mine[body.offset : body.offset + body.limit]])


@router.post("/store/namespaces", response_model=Namespaces)
async def list_namespaces(body: NamespaceSearch, request: Request, who: Principal = Depends(principal)) -> Namespaces:
    """The tenant's namespaces, by `prefix`, `suffix` and `max_depth` (labels `*` match any)."""
    store = _store(request)
    prefix = body.prefix or []
    for label in (*prefix, *(body.suffix or [])):
        if label != "*":
            _check([label])
    raw = await store.alist_namespaces(prefix=tuple(prefix[:1]) or None, limit=SCAN_LIMIT)
    views: list[list[str]] = []
    for namespace in raw:
        view = seen(who.tenant, namespace)
        if view is None or not _matches(view, prefix, body.suffix or []):
            continue
        if not await store.asearch(namespace, limit=1):  # LangGraph's InMemoryStore keeps a namespace a read named
            continue
        view = view[: body.max_depth] if body.max_depth else view
        if view not in views:
            views.append(view)
    views.sort()
    return Namespaces(namespaces=views[body.offset : body.offset + body.limit])


def _matches(view: list[str], prefix: list[str], suffix: list[str]) -> bool:
    def same(part: list[str], wanted: list[str]) -> bool:
        return len(part) == len(wanted) and all(w in ("*", p) for p, w in zip(part, wanted, strict=True))

    if len(view) < max(len(prefix), len(suffix)):
        return False
    return same(view[: len(prefix)], prefix) and (not suffix or same(view[-len(suffix) :], suffix))


__all__ = ["router", "seen", "stored"]
