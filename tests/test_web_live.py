"""A run, live (`/ui/runs/{id}`), its cookie stream, and the approval card; HTML-level with httpx.

The page renders what the log holds so far (the stage graph with its nodes tagged, the transcript
keyed by event id, rewards with each agent's share, tool calls, tokens against the budget); the
stream sends the same ids as `/v1/runs/{id}/events` and continues after `Last-Event-ID` with no
loss and no repeat; the card's answers go through the API's own checks (schema, policy, state),
refusals inline with the form as it was; another tenant's run is a 404 on the page, the stream
and the card.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from servicetools import sse_events, wait_status
from webclient import TASK, Browser, alerts, page_app, sse

from moot.service.keys import key_store

DOT = shutil.which("dot") is not None


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOOT_EMBEDDER", "wordllama")


async def _run(b: Browser, workspace: str = "gated", task: str = TASK) -> str:
    await b.page("/")
    resp = await b.send_form("/ui/runs", {"workspace": workspace, "task": task, "session": "new", "user_id": "ana"})
    assert resp.status_code == 303, alerts(resp.text)
    return resp.headers["location"].rsplit("/", 1)[1]


def _textarea(text: str, id_: str) -> str:
    """What a textarea of the page holds, unescaped."""
    found = re.search(rf'<textarea id="{id_}"[^>]*>(.*?)</textarea>', text, re.DOTALL)
    assert found, id_
    return html.unescape(found.group(1))


async def _stream(b: httpx.AsyncClient, path: str, *, last: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The page stream's messages (data parsed), read as EventSource would."""
    events = await sse_events(b, path, last_event_id=last, limit=limit)
    return [{**e, "data": json.loads(e["data"]) if isinstance(e["data"], str) else e["data"]} for e in events]


@pytest.mark.parametrize("state", ["local", "fleet"])
async def test_a_paused_run_renders_then_streams_and_the_card_approves_an_edit(tmp_path: Path, state: str) -> None:
    """On the embedded backends, and on the fleet's (Redis log ids, PostgreSQL records)."""
    async with page_app(tmp_path, fleet=state == "fleet") as (url, _), Browser(base_url=url, timeout=30) as b:
        run_id = await _run(b)
        await wait_status(b, run_id, {"awaiting_approval"})
        page = await b.page(f"/ui/runs/{run_id}")
        text = page.text
        assert page.status_code == 200 and '<script src="/ui/static/live.js"' in text
        if DOT:
            assert '<svg' in text and 'data-node="synthesizer"' in text and 'data-node="critic"' in text
        assert re.findall(r'<li data-stage="(\w+)"', text)[:4] == ["init", "intake", "gather", "proposal"]
        # the transcript: proposals with candidates, reviews with scores, the decision with ranking and weights
        assert "plan-1" in text and "weights:" in text and "Winner <strong>plan-1</strong>" in text
        assert "on <strong>plan-1</strong>" in text and "quality 0.7" in text
        # rewards with each agent's share and the spread; tool calls with attempts and the ledger; tokens
        assert "<th scope=\"col\">critic</th>" in text and "devils_advocate" in text and "disagree" in text
        assert "search_flights" in text and "recorded" in text
        assert "tokens" in text and "Per stage" in text
        # the approval card: what will be done, and the three answers
        assert 'id="approval-form"' in text and "Waiting for your approval before booking" in text
        for action in ("approve", "reject", "edit"):
            assert f'name="action" value="{action}"' in text

        # the stream: the same ids as the API's, lines keyed by them
        v1 = await sse_events(b, f"/v1/runs/{run_id}/events", limit=10)
        mine = await _stream(b, f"/ui/runs/{run_id}/events", limit=10)
        assert [m["id"] for m in mine] == [e["id"] for e in v1]
        assert all(m["event"] == "message" and m["data"]["id"] == m["id"] for m in mine)
        first_line = next(m["data"] for m in mine if m["data"]["line"])
        assert f'data-id="{first_line["id"]}"' in first_line["line"] and f'data-id="{first_line["id"]}"' in text
        assert {"id", "kind", "ts", "stage", "agent", "line", "panels", "snap"} <= set(mine[0]["data"])
        rest = await _stream(b, f"/ui/runs/{run_id}/events", last=mine[4]["id"], limit=5)
        assert [m["id"] for m in rest] == [m["id"] for m in mine[5:10]]
        bad = await b.get(f"/ui/runs/{run_id}/events", headers={"Last-Event-ID": "not-an-id"})
        assert bad.status_code == 400

        # refusals: bad JSON, not an object, an empty action; the run stays paused and the form keeps its text
        for form, message in (
            ({"action": "edit", "decision": '{"winner": "plan-2",'}, "not valid JSON"),
            ({"action": "edit", "decision": "[1, 2]"}, "must be a JSON object"),
            ({"action": "maybe"}, "cannot be sent"),
        ):
            resp = await b.send_form(f"/ui/runs/{run_id}/approval", {"reason": "my reason", **form})
            assert resp.status_code == 422 and message in html.unescape(alerts(resp.text)[0]), (form, alerts(resp.text))
            assert "my reason" in resp.text
            if "decision" in form:
                assert _textarea(resp.text, "approval-decision") == form["decision"]
        assert (await b.get(f"/v1/runs/{run_id}")).json()["status"] == "awaiting_approval"

        decision = (await b.get(f"/v1/runs/{run_id}/approval")).json()["decision"]
        edited = json.dumps({**decision, "summary": "edited on the page"})
        resp = await b.send_form(f"/ui/runs/{run_id}/approval", {"action": "edit", "decision": edited, "reason": "tweak"})
        assert resp.status_code == 303 and resp.headers["location"] == f"/ui/runs/{run_id}"
        done = await wait_status(b, run_id, {"finished", "failed"})
        assert done["status"] == "finished" and done["result"]["decision"]["summary"] == "edited on the page"

        whole = await _stream(b, f"/ui/runs/{run_id}/events")
        assert whole[-1]["data"]["kind"] == "run_finished" and len({m["id"] for m in whole}) == len(whole)
        assert [m["id"] for m in whole] == [e["id"] for e in await sse_events(b, f"/v1/runs/{run_id}/events")]
        approval_panel = next(m["data"]["panels"].get("approval") for m in whole if m["data"]["kind"] == "approval_requested")
        assert "approval-form" in approval_panel and "csrf" in approval_panel
        ended = await b.page(f"/ui/runs/{run_id}")
        assert 'data-ended="true"' in ended.text and "approval-form" not in ended.text and "edited on the page" in ended.text
        assert "BK-" in ended.text or "book" in ended.text

        late = await b.send_form(f"/ui/runs/{run_id}/approval", {"action": "approve"})
        assert late.status_code == 409 and "not waiting for approval" in alerts(late.text)[0]


async def test_reject_with_a_reason_and_a_policy_refusal(tmp_path: Path) -> None:
    async with page_app(tmp_path) as (url, _), Browser(base_url=url, timeout=30) as b:
        strict = await _run(b, "strict")
        await wait_status(b, strict, {"awaiting_approval"})
        await b.page(f"/ui/runs/{strict}")
        resp = await b.send_form(f"/ui/runs/{strict}/approval", {"action": "edit", "decision": '{"winner": "plan-2"}', "reason": "mine"})
        assert resp.status_code == 422 and "human" in alerts(resp.text)[0]
        assert _textarea(resp.text, "approval-decision") == '{"winner": "plan-2"}' and (await b.get(f"/v1/runs/{strict}")).json()["status"] == "awaiting_approval"
        resp = await b.send_form(f"/ui/runs/{strict}/approval", {"action": "reject", "reason": "too far"})
        assert resp.status_code == 303
        assert (await wait_status(b, strict, {"finished", "failed"}))["status"] == "finished"
        page = await b.page(f"/ui/runs/{strict}")
        assert "reject: too far" in page.text


async def test_unknown_and_foreign_runs_are_404_on_the_page_the_stream_and_the_card(tmp_path: Path) -> None:
    keys: dict[str, str] = {}
    async with key_store(None) as store:
        for tenant in ("a", "b"):
            _, keys[tenant] = await store.create(tenant, label="web test")
    async with page_app(tmp_path) as (url, _), Browser(base_url=url, timeout=30) as a, Browser(base_url=url, timeout=30) as b:
        for who, client in (("a", a), ("b", b)):
            await client.page("/ui/login")
            resp = await client.send_form("/ui/login", {"key": keys[who], "next": "/"})
            assert resp.status_code == 303, resp.text
        run_id = await _run(a)
        async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {keys['a']}"}) as api:
            await wait_status(api, run_id, {"awaiting_approval"})
        assert (await a.page(f"/ui/runs/{run_id}")).status_code == 200
        await b.page("/")
        for path in (f"/ui/runs/{run_id}", "/ui/runs/run-000000000000"):
            assert (await b.page(path)).status_code == 404
            assert (await b.get(path + "/events")).status_code == 404
            resp = await b.send_form(path + "/approval", {"action": "approve"})
            assert resp.status_code == 404
        assert (await b.get("/ui/runs/status", params={"ids": run_id})).json() == {"runs": {}}
        assert run_id not in (await b.page("/")).text
        unsigned = await httpx.AsyncClient(base_url=url).get(f"/ui/runs/{run_id}/events")
        assert unsigned.status_code == 303 and "/ui/login" in unsigned.headers["location"]
        assert sse("id: 1\nevent: message\ndata: {}\n\n")[0]["data"] == {}


async def test_after_a_restart_an_emptied_log_is_made_up_for_by_the_checkpoint(tmp_path: Path) -> None:
    """An embedded server's event log lives in its memory: after a restart a finished run has no
    events left. The page then shows the run from its checkpoint: the transcript's entries, the
    rewards, the tool results and the usage, as before the restart."""
    async with page_app(tmp_path) as (url, _), Browser(base_url=url, timeout=30) as b:
        run_id = await _run(b, "demo")
        assert (await wait_status(b, run_id, {"finished", "failed"}))["status"] == "finished"
        before = (await b.page(f"/ui/runs/{run_id}")).text
    async with page_app(tmp_path, reuse=True) as (url, _), Browser(base_url=url, timeout=30) as b:
        after = await b.page(f"/ui/runs/{run_id}")
        assert after.status_code == 200 and 'data-id="checkpoint"' in after.text
        for marker in ("Winner <strong>plan-1</strong>", "on <strong>plan-1</strong>", "disagree", "BK-00001", "Per stage"):
            assert marker in before and marker in after.text, marker
        stream = sse((await b.get(f"/ui/runs/{run_id}/events")).text)
        assert stream and stream[0]["data"]["id"] == "checkpoint" and "id" not in stream[0]
        assert "rewards" in stream[0]["data"]["panels"]


def test_the_view_folds_tool_retries_violations_budgets_and_unknown_kinds() -> None:
    """Kinds a scripted demo run does not produce: a tool error retried then failed, a tool replayed
    from the ledger, a policy violation, a token budget and prices, and an event kind the page does
    not know (shown generically, never dropped)."""
    from moot.events import Event
    from moot.service.web.run_view import RunView
    from moot.service.web.templating import templates

    def ev(type_: str, **fields: Any) -> Event:
        return Event(type=type_, run_id="run-x", **fields)  # type: ignore[arg-type]

    view = RunView(stages=["gather", "booking"], token_budget=1000, prices={"scripted/scripted": {"prompt_per_mtok": 1.0, "completion_per_mtok": 2.0}})
    view.apply("1", ev("tool_call", stage="gather", agent="scout", data={"tool": "search", "arguments": {"q": 1}, "status": "intent", "label": "out"}))
    view.apply("2", ev("tool_call", stage="gather", agent="tool_runtime", data={"tool": "search", "arguments": {"q": 1}, "key": "k0", "attempt": 1}))
    view.apply("3", ev("tool_error", stage="gather", agent="tool_runtime", data={"tool": "search", "key": "k0", "attempt": 1, "error": "timeout", "final": False}))
    view.apply("4", ev("tool_error", stage="gather", agent="tool_runtime", data={"tool": "search", "key": "k0", "attempt": 2, "error": "timeout again", "final": True}))
    view.apply("5", ev("tool_result", stage="booking", agent="tool_runtime", data={"tool": "book", "key": "k1", "ok": True, "attempts": 1, "replayed": True}))
    usage = {"critic": {"prompt_tokens": 700, "completion_tokens": 200, "calls": 1, "latency_s": 0.5, "model": "scripted/scripted",
                        "stages": {"gather": {"prompt_tokens": 700, "completion_tokens": 200, "calls": 1, "latency_s": 0.5}}}}
    view.apply("6", ev("state_patch", agent="critic", data={"node": "critic", "update": {"usage": usage}}))
    line, changed = view.apply("7", ev("policy_violation", agent="critic", stage="gather", data={"message": "critic may not write decision"}))
    assert line is not None and changed == {"violations"}
    odd, _ = view.apply("8", ev("memory_written", agent="critic", data={"layer": "semantic", "text": "<likes trains>"}))

    search = view.tools["k0"]
    assert (search.agent, search.label, search.attempts, search.status, search.errors) == ("scout", "out", 2, "failed", ["timeout", "timeout again"])
    assert "intent:search:out" not in view.tools and view.tools["k1"].ledger == "replayed from the ledger"
    context = {"view": view, "facts": {"stages": view.stages}, "csrf": "t", "run_id": "run-x", "approval": {}}
    tools = templates.env.get_template("run/tools.html").render(**context)
    assert "timeout again" in tools and "replayed from the ledger" in tools and 'class="tool-failed"' in tools
    usage_html = templates.env.get_template("run/usage.html").render(**context)
    assert "900 tokens of a budget of 1000" in usage_html and "<meter" in usage_html and "cost 0.0011" in usage_html
    violations = templates.env.get_template("run/violations.html").render(**context)
    assert "critic in gather: critic may not write decision" in violations
    shown = templates.env.get_template("run/line.html").render(line=odd, view=view)
    assert "memory_written" in shown and "likes trains" in shown and "<likes" not in shown  # shown, never interpreted
