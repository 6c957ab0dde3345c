"""Time travel on the page: a run's checkpoint timeline, the state at a checkpoint annotated with
channels and writers, a fork from a checkpoint (the original thread untouched), and bad input:
a stale checkpoint id, another tenant's run, a POST without its CSRF token."""

from __future__ import annotations

import re

import pytest
from langgraphtools import Server
from webpages import langgraph_run, post_form, signed_in

pytestmark = pytest.mark.usefixtures("fast_embedder")

CHECKPOINT = re.compile(r'name="checkpoint" value="([^"]+)"')


async def test_the_timeline_lists_the_threads_checkpoints_and_a_state_shows_channels_and_writers(server: Server) -> None:
    async with server.http("a") as api, signed_in(server) as page:
        sid, run = await langgraph_run(api)
        history = (await api.get(f"/threads/{sid}/history", params={"limit": 1000})).json()
        resp = await page.get(f"/ui/runs/{run['run_id']}/history")
        assert resp.status_code == 200, resp.text
        shown = CHECKPOINT.findall(resp.text)
        assert shown == [s["checkpoint_id"] for s in history], "every checkpoint, newest first, as /threads/{id}/history"
        assert "this run" in resp.text and "stage synthesis" in resp.text
        assert "synthesizer" in resp.text, "the node that wrote a checkpoint is named"

        middle = next(s for s in history if s["values"].get("stage") == "synthesis" and s["next"])
        resp = await page.get(f"/ui/runs/{run['run_id']}/history", params={"checkpoint": middle["checkpoint_id"]})
        assert resp.status_code == 200
        state = resp.text[resp.text.index('id="state"'):resp.text.index('id="timeline-title"')]
        for key, channel, writers in (
            ("stage", "LastValue", "orchestrator"), ("history", "BinaryOperatorAggregate", "human"),
            ("rewards", "BinaryOperatorAggregate", "critic"), ("usage", "BinaryOperatorAggregate", "runtime"),
        ):
            block = state[state.index(f'<code class="keyname">{key}</code>'):]
            block = block[:block.index("</summary>")]
            assert channel in block and writers in block, (key, block)


async def test_a_long_timeline_comes_in_pages(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from moot.service.web import checkpoints

    monkeypatch.setattr(checkpoints, "PAGE", 7)
    async with server.http("a") as api, signed_in(server) as page:
        sid, run = await langgraph_run(api)
        history = [s["checkpoint_id"] for s in (await api.get(f"/threads/{sid}/history", params={"limit": 1000})).json()]
        seen: list[str] = []
        address = f"/ui/runs/{run['run_id']}/history"
        while address:
            resp = await page.get(address)
            assert resp.status_code == 200
            shown = CHECKPOINT.findall(resp.text)
            assert 0 < len(shown) <= 7
            seen += shown
            older = re.search(r'href="(/ui/runs/[^"]+/history\?before=[^"]+)">Older checkpoints', resp.text)
            address = older.group(1) if older else ""
        assert seen == history, "every checkpoint once, newest first, across the pages"
        resp = await page.get(f"/ui/runs/{run['run_id']}/history", params={"before": history[-1]})
        assert resp.status_code == 200 and "No checkpoints before that one" in resp.text


async def test_a_fork_from_a_checkpoint_lands_on_the_new_run_and_leaves_the_thread_alone(server: Server) -> None:
    async with server.http("a") as api, signed_in(server) as page:
        sid, run = await langgraph_run(api)
        before = (await api.get(f"/threads/{sid}/history", params={"limit": 1000})).json()
        earlier = next(s for s in before if s["values"].get("stage") == "synthesis" and s["next"])
        address = f"/ui/runs/{run['run_id']}/history"
        resp = await post_form(page, f"/ui/runs/{run['run_id']}/fork", {"checkpoint": earlier["checkpoint_id"]}, from_page=address)
        assert resp.status_code == 303, resp.text
        new_run = resp.headers["location"].rsplit("/", 1)[-1]
        assert resp.headers["location"] == f"/ui/runs/{new_run}" and new_run != run["run_id"]
        landed = await page.get(resp.headers["location"])
        assert landed.status_code == 200 and f"/ui/runs/{new_run}/history" in landed.text, "the run page links to its time travel"
        done = await _finished(api, new_run)
        assert done["session_id"] == sid and done["task"] == run["task"]
        after = (await api.get(f"/threads/{sid}/history", params={"limit": 1000})).json()
        kept = {s["checkpoint_id"]: s["values"] for s in after}
        assert all(kept.get(s["checkpoint_id"]) == s["values"] for s in before), "the original checkpoints are unchanged"
        assert len(after) > len(before)
        resp = await page.get(f"/ui/runs/{new_run}/history")
        assert resp.status_code == 200 and resp.text.count("this run") > 0


async def test_a_stale_checkpoint_is_an_inline_message_and_nothing_is_forked(server: Server) -> None:
    async with server.http("a") as api, signed_in(server) as page:
        sid, run = await langgraph_run(api)
        address = f"/ui/runs/{run['run_id']}/history"
        resp = await page.get(address, params={"checkpoint": "1f0-no-such-checkpoint"})
        assert resp.status_code == 404 and 'role="alert"' in resp.text and "1f0-no-such-checkpoint" in resp.text
        assert CHECKPOINT.findall(resp.text), "the timeline is still there to choose from"
        for bad in ("1f0-no-such-checkpoint", "", "x" * 300):
            resp = await post_form(page, f"/ui/runs/{run['run_id']}/fork", {"checkpoint": bad}, from_page=address)
            assert resp.status_code in (404, 422) and 'role="alert"' in resp.text, (bad, resp.status_code)
        runs = (await api.get("/v1/runs", params={"session_id": sid})).json()["runs"]
        assert [r["run_id"] for r in runs] == [run["run_id"]], "no run was started"


async def test_another_tenants_run_is_not_found_and_a_fork_needs_its_csrf_token(server: Server) -> None:
    async with server.http("a") as api, signed_in(server, "b") as other, signed_in(server) as page:
        sid, run = await langgraph_run(api)
        history = (await api.get(f"/threads/{sid}/history")).json()
        cp = history[0]["checkpoint_id"]
        resp = await other.get(f"/ui/runs/{run['run_id']}/history", params={"checkpoint": cp})
        assert resp.status_code == 404 and run["task"] not in resp.text and cp not in resp.text
        resp = await post_form(other, f"/ui/runs/{run['run_id']}/fork", {"checkpoint": cp}, from_page="/")
        assert resp.status_code == 404
        resp = await page.post(f"/ui/runs/{run['run_id']}/fork", data={"checkpoint": cp})
        assert resp.status_code == 403, "no CSRF token: refused"
        resp = await page.post(f"/ui/runs/{run['run_id']}/fork", data={"checkpoint": cp, "csrf": "forged"})
        assert resp.status_code == 403
        runs = (await api.get("/v1/runs", params={"session_id": sid})).json()["runs"]
        assert len(runs) == 1


async def _finished(api, run_id: str) -> dict:  # type: ignore[no-untyped-def]
    from servicetools import wait_status

    return await wait_status(api, run_id, {"finished"})
