"""Sessions and memory on the page: the tenant's sessions and a session's runs; a user's semantic
memories, a search within a token budget (the recall of `/v1/users/{id}/memory/search`), forgetting
one or all after a confirmation; bad input, another tenant's ids, and CSRF refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from webpages import PageServer, langgraph_run, page_server, post_form, signed_in

from moot.service.jobs import scoped_user

pytestmark = pytest.mark.usefixtures("fast_embedder")


@pytest.fixture
async def pages(tmp_path: Path) -> AsyncIterator[PageServer]:
    async with page_server(tmp_path) as s:
        yield s


FACTS = ("Ana is vegetarian", "Ana prefers window seats on trains", "Ana's budget is usually under 2000 EUR")


async def _tenant(pages: PageServer, tenant: str) -> str:
    info = await pages.app.state.ctx.keys.verify(pages.keys[tenant])
    return str(info.tenant)


async def test_the_sessions_page_lists_the_tenants_sessions_and_a_session_its_runs(pages: PageServer) -> None:
    async with pages.http("a") as api, pages.http("b") as api_b, signed_in(pages) as page:
        sid, run = await langgraph_run(api, user="ana")
        other_sid, _ = await langgraph_run(api_b, user="bob")
        resp = await page.get("/ui/sessions")
        assert resp.status_code == 200
        assert sid in resp.text and "ana" in resp.text and "demo" in resp.text
        assert other_sid not in resp.text, "another tenant's session is not listed"
        resp = await page.get("/ui/sessions", params={"user": "nobody"})
        assert resp.status_code == 200 and sid not in resp.text
        resp = await page.get("/ui/sessions", params={"user": "not a user!"})
        assert resp.status_code == 422 and 'role="alert"' in resp.text and 'value="not a user!"' in resp.text

        resp = await page.get(f"/ui/sessions/{sid}")
        assert resp.status_code == 200 and run["run_id"] in resp.text and f"/ui/runs/{run['run_id']}/history" in resp.text
        for bad in (other_sid, "session-0000", "x" * 500):
            resp = await page.get(f"/ui/sessions/{bad}")
            assert resp.status_code == 404 and 'role="alert"' in resp.text


async def test_memory_search_within_a_budget_and_forgetting_one_then_all(pages: PageServer) -> None:
    tenant = await _tenant(pages, "a")
    memory = pages.app.state.ctx.memory
    for fact in FACTS:
        await memory.semantic.remember(scoped_user(tenant, "ana"), fact)
    other = await _tenant(pages, "b")
    await memory.semantic.remember(scoped_user(other, "ana"), "Tenant b's Ana flies business class")
    async with signed_in(pages) as page:
        address = "/ui/users/ana/memory"
        resp = await page.get(address)
        assert resp.status_code == 200
        assert all(f in resp.text.replace("&#39;", "'") for f in FACTS) and "business class" not in resp.text

        resp = await page.get(address, params={"q": "what does Ana eat", "budget": "200"})
        assert resp.status_code == 200 and "Search results" in resp.text
        assert "vegetarian" in resp.text and "of 200 tokens used" in resp.text
        api_result = (await _api_search(pages, "what does Ana eat", 200))
        assert f"<strong>{api_result['tokens']}</strong> of 200 tokens used" in resp.text, "the same recall as the API"

        for params, why in (({"q": "", "budget": "200"}, "search for"), ({"q": "food", "budget": "0"}, "budget"),
                            ({"q": "food", "budget": "lots"}, "budget"), ({"q": "x" * 2001, "budget": "10"}, "search for")):
            resp = await page.get(address, params=params)
            assert resp.status_code == 422 and 'role="alert"' in resp.text and why in resp.text, params

        items = await memory.semantic.items(scoped_user(tenant, "ana"))
        veg = next(i for i in items if "vegetarian" in i.text)
        resp = await post_form(page, f"{address}/forget", {"memory_id": veg.id}, from_page=address)
        assert resp.status_code == 200 and "Yes, forget it" in resp.text and "vegetarian" in resp.text, "asked first"
        assert len(await memory.semantic.items(scoped_user(tenant, "ana"))) == 3, "nothing forgotten yet"
        resp = await post_form(page, f"{address}/forget", {"memory_id": veg.id, "confirm": "yes"}, from_page=address)
        assert resp.status_code == 200 and "Forgot that memory" in resp.text
        assert [i.text for i in await memory.semantic.items(scoped_user(tenant, "ana"))] and "vegetarian" not in resp.text
        resp = await post_form(page, f"{address}/forget", {"memory_id": veg.id, "confirm": "yes"}, from_page=address)
        assert resp.status_code == 404 and 'role="alert"' in resp.text, "forgotten already"

        resp = await page.post(f"{address}/forget", data={"confirm": "yes"})
        assert resp.status_code == 403, "no CSRF token"
        assert len(await memory.semantic.items(scoped_user(tenant, "ana"))) == 2
        resp = await post_form(page, f"{address}/forget", {}, from_page=address)
        assert resp.status_code == 200 and "Yes, forget everything" in resp.text
        resp = await post_form(page, f"{address}/forget", {"confirm": "yes"}, from_page=address)
        assert resp.status_code == 200 and "Forgot everything about ana" in resp.text
        assert await memory.semantic.items(scoped_user(tenant, "ana")) == []
        assert len(await memory.semantic.items(scoped_user(other, "ana"))) == 1, "tenant b's ana is untouched"

        resp = await page.get("/ui/users/bad user/memory")
        assert resp.status_code == 422 and 'role="alert"' in resp.text


async def test_another_tenant_cannot_forget_a_memory_by_its_id(pages: PageServer) -> None:
    tenant = await _tenant(pages, "a")
    memory = pages.app.state.ctx.memory
    await memory.semantic.remember(scoped_user(tenant, "ana"), "Ana is vegetarian")
    [item] = await memory.semantic.items(scoped_user(tenant, "ana"))
    async with signed_in(pages, "b") as other:
        address = "/ui/users/ana/memory"
        resp = await other.get(address)
        assert "vegetarian" not in resp.text
        resp = await post_form(other, f"{address}/forget", {"memory_id": item.id, "confirm": "yes"}, from_page=address)
        assert resp.status_code == 404
    assert len(await memory.semantic.items(scoped_user(tenant, "ana"))) == 1


async def _api_search(pages: PageServer, q: str, budget: int) -> dict:  # type: ignore[type-arg]
    async with pages.http("a") as api:
        resp = await api.get("/v1/users/ana/memory/search", params={"q": q, "budget_tokens": budget})
        assert resp.status_code == 200, resp.text
        return resp.json()


async def test_without_memory_the_memory_page_says_so_and_forgets_nothing(tmp_path: Path) -> None:
    async with page_server(tmp_path, memory=False) as server, signed_in(server) as page:
        address = "/ui/users/ana/memory"
        resp = await page.get(address, params={"q": "food", "budget": "100"})
        assert resp.status_code == 200 and "runs without memory" in resp.text
        resp = await post_form(page, f"{address}/forget", {"confirm": "yes"}, from_page=address)
        assert resp.status_code == 200 and "runs without memory" in resp.text
