"""The built-in example workspaces run end to end with the scripted model (issue 7, issue 11).

`code_review`: a scout runs Ruff over the Python the change's diff adds (through the built-in
review_desk MCP server), a hard constraint excludes `approve` when that finds a blocker, three
reviewers and a measure of the findings score the intake's candidate verdicts in one parallel
superstep, the chair's weighted ranking picks the verdict, and the clerk files it (its call
derived by code) as a Markdown file through the same server. `research`: the judgement stage
sends the debate back for revision while the critic's scores are low, bounded by `max_rounds`,
and ends with a decision. Agents, graph, policy, tool node, Ruff and MCP server are the real
ones; only the chat model is scripted (tests/data/*_script.json, one list of answers per agent).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from clitools import cli_env, moot_cmd
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from moot.agents.roles import rank
from moot.errors import WorkspaceError
from moot.events import Event, EventBus
from moot.models.scripted import ScriptedChatModel
from moot.workspace.runner import WorkspaceRunner
from moot.history import candidate_ids
from moot.workspace.loader import BUILTIN, builtin_path, load_workspace

DATA = Path(__file__).parent / "data"
UNSAFE_QUERY = """rows = db.execute(f"SELECT id, name FROM users WHERE name LIKE '%{q}%'")"""
SAFE_QUERY = """rows = db.execute("SELECT id, name FROM users WHERE name LIKE ?", (f"%{q}%",))"""
CHANGE = f"""Add user search endpoint

Adds GET /users/search?q=NAME, which returns the matching users as JSON. No tests were added.

diff --git a/app/users.py b/app/users.py
index 3b18e51..9a1f2c4 100644
--- a/app/users.py
+++ b/app/users.py
@@ -1,6 +1,12 @@
 from app.db import db
 from app.web import route
 
 
+@route("/users/search")
+def search_users(q):
+    {UNSAFE_QUERY}
+    return [dict(row) for row in rows]
+
+
 @route("/users/<user_id>")
 def get_user(user_id):
"""
"""A real change: a title line, then a unified diff whose added query is built with an f-string
from the request (Ruff's S608, a blocker) on line 7 of the new file (the hunk starts at +1)."""
CLEAN_CHANGE = CHANGE.replace(UNSAFE_QUERY, SAFE_QUERY)
"""The same feature with the query parameterised: nothing for the checks to find."""
QUESTION = "Does sleeping after learning improve long-term memory retention?"
MODEL_REVIEWERS = ("security", "correctness", "readability")
REVIEWERS = (*MODEL_REVIEWERS, "measure")
"""The review stage's parallel step: three model reviewers and the measure of the findings."""


@pytest.fixture
def code_review_script() -> dict[str, Any]:
    return json.loads((DATA / "code_review_script.json").read_text())


@pytest.fixture
def research_script() -> dict[str, Any]:
    return json.loads((DATA / "research_script.json").read_text())


def playback(script: Mapping[str, list[Any]]) -> Callable[..., Any]:
    """A scripted model's script: per-agent answers in order (the last repeats)."""
    cursors: dict[str, int] = {}

    def answer(messages: list[BaseMessage], info: dict[str, Any]) -> Any:
        agent = info["agent"]
        queue = script[agent]
        position = cursors.get(agent, 0)
        cursors[agent] = position + 1
        return queue[min(position, len(queue) - 1)]

    return answer


def security_favours_approve(script: dict[str, Any]) -> dict[str, Any]:
    """The clean change: approve is a candidate again, so each reviewer reviews it too, and the
    security reviewer finds the query parameterised."""
    changed = copy.deepcopy(script)
    on_approve = {
        "security": ("q is bound as a parameter; approve judged on that.", 0.9),
        "correctness": ("Search returns the right users for plain names.", 0.8),
        "readability": ("Short, clear handler that matches the other endpoints.", 1.0),
    }
    for who, (comment, score) in on_approve.items():
        changed[who][0]["reviews"].insert(0, {"candidate": "approve", "comment": comment, who: score})
    scores = {"approve": 0.9, "request-changes": 0.4, "reject": 0.1}
    for review in changed["security"][0]["reviews"]:
        review["security"] = scores[review["candidate"]]
        review["comment"] = f"q is bound as a parameter; {review['candidate']} judged on that."
    return changed


def offered(model: ScriptedChatModel, agent: str) -> list[str]:
    """The candidate ids the agent's answer schema allowed (what the model was offered)."""
    (call,) = [c for c in model.calls if c["agent"] == agent]
    schema = call["kwargs"]["response_format"]["json_schema"]["schema"]
    return list(schema["$defs"]["Review"]["properties"]["candidate"]["enum"])


# --- code_review ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["as_recorded", "security_favours_approve"])
async def test_code_review_files_the_chairs_verdict_through_the_review_desk(
    scenario: str, code_review_script: dict[str, Any], moot_home: Path
) -> None:
    recorded = scenario == "as_recorded"
    script = code_review_script if recorded else security_favours_approve(code_review_script)
    change = CHANGE if recorded else CLEAN_CHANGE
    expected = "request-changes" if recorded else "approve"
    # strict: each agent that asks the model is answered once; an agent with no answers (the
    # scout, the measure, the clerk) fails the run if it asks. Each model reviewer takes a
    # while, so agents running one after the other could not overlap.
    model = ScriptedChatModel(script=script, strict=True, latency={r: 0.15 for r in MODEL_REVIEWERS})
    runtime = WorkspaceRunner.load("code_review", models={"default": model})
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    async with runtime.open_tools():
        orch = runtime.orchestrator(InMemorySaver(), bus=bus)
        result = await orch.run(change)
        snapshots = [s async for s in orch.graph.aget_state_history({"configurable": {"thread_id": result.session_id}})]

    assert result.status == "finished" and result.state["stage"] == "final" and result.state["round"] == 1
    # only the intake, the model reviewers and the chair asked the model: the checks, the
    # measure and the clerk's filing are code
    assert sorted(c["agent"] for c in model.calls) == sorted(["intake", *MODEL_REVIEWERS, "chair"])

    # the scout's static checks ran first, through the MCP server, on the diff in the task
    outcomes = [e for e in result.state["history"] if e["type"] in ("tool_result", "tool_error")]
    assert [(e["type"], e["content"]["tool"]) for e in outcomes] == [("tool_result", "check_diff"), ("tool_result", "post_review")]
    checked = outcomes[0]["content"]["content"]
    assert checked["checked"] == ["app/users.py"] and checked["unchecked"] == []
    s608 = {"file": "app/users.py", "line": 7, "rule": "S608", "severity": "blocker"}
    assert [{k: f[k] for k in s608} for f in checked["findings"]] == ([s608] if recorded else [])

    # the intake proposed every verdict; a blocker excludes approve before anyone scores it
    (proposal,) = [e["content"] for e in result.state["history"] if e["type"] == "proposal"]
    if recorded:
        assert [c["id"] for c in proposal["candidates"]] == ["request-changes", "reject"]
        assert proposal["excluded"] == [{
            "id": "approve", "title": "Approve as is",
            "reasons": ["approve is excluded: the static checks found 1 blocker(s), first S608 at app/users.py:7"],
        }]
    else:
        assert [c["id"] for c in proposal["candidates"]] == ["approve", "request-changes", "reject"]
        assert proposal["excluded"] == []
    # an excluded verdict is not offered to the reviewers, and nobody scored it
    for who in MODEL_REVIEWERS:
        assert offered(model, who) == [c["id"] for c in proposal["candidates"]], who
    assert set(result.state["rewards"]["totals"]) == set(candidate_ids(result.state["history"]))
    assert result.state["rewards"]["by_agent"]["measure"] == (
        {"request-changes": {"checks": 1.0}, "reject": {"checks": 0.7}} if recorded
        else {"approve": {"checks": 1.0}, "request-changes": {"checks": 0.2}, "reject": {"checks": 0.1}}
    )

    # the verdict is the chair's weighted ranking of the checks' and the reviewers' scores
    assert result.winner == expected and result.decision["ranking"][0]["candidate"] == expected
    assert result.decision["weights"] == {"checks": 3.0, "security": 2.0, "correctness": 1.5, "readability": 0.5}
    if recorded:
        # unweighted, readability's wish to start over would have rejected a fixable change:
        # the stage's weights (checks 3.0, security 2.0) are what decided
        unweighted = rank(result.state["rewards"], {}, candidate_ids(result.state["history"]))
        assert unweighted[0][0] == "reject"

    # the reviewers and the measure ran in ONE superstep: a checkpoint had exactly the four of
    # them next, and no checkpoint ever had only some of them next
    nexts = [set(s.next) for s in snapshots if set(s.next) & set(REVIEWERS)]
    assert nexts == [set(REVIEWERS)]
    after = [s for s in snapshots if len((s.values.get("executed_agents_per_stage") or {}).get("review", [])) == 4]
    before = [s for s in snapshots if set(s.next) == set(REVIEWERS)]
    assert after and before and after[-1].metadata["step"] == before[0].metadata["step"] + 1
    # ... and concurrently: all four started before any of the model reviewers finished
    lifecycle = [(e.type, e.agent) for e in events if e.agent in REVIEWERS and e.type in ("agent_started", "agent_finished")]
    first_finished = next(i for i, (t, a) in enumerate(lifecycle) if t == "agent_finished" and a in MODEL_REVIEWERS)
    assert {a for t, a in lifecycle[:first_finished] if t == "agent_started"} == set(REVIEWERS)
    assert sorted(lifecycle) == sorted([(t, a) for a in REVIEWERS for t in ("agent_started", "agent_finished")])

    # the clerk filed the review through the MCP server, once (the scout's check was intent #0)
    posted = outcomes[1]["content"]["content"]
    assert posted["verdict"] == expected and posted["idempotency_key"] == f"{result.run_id}:1"
    folder = moot_home / "reviews"
    assert sorted(p.name for p in folder.glob("*.md")) == ["add-user-search-endpoint.md"]
    assert posted["path"] == str(folder / "add-user-search-endpoint.md")
    text = (folder / "add-user-search-endpoint.md").read_text()
    assert text.startswith("# Review: Add user search endpoint\n")
    assert f"- Verdict: **{expected}**" in text
    assert f"{result.decision['why']}. {result.decision['rationale']}" in text
    # the static finding first, with its rule and line; then each reviewer's comment on the verdict
    findings = [line for line in text.splitlines() if line.startswith("- **")]
    static = ["- **blocker** (static checks): S608 at app/users.py:7: " + checked["findings"][0]["message"]] if recorded else []
    comments = {who: r["comment"] for who in MODEL_REVIEWERS for r in script[who][0]["reviews"] if r["candidate"] == expected}
    assert len(comments) == 3
    assert findings[: len(static)] == static
    assert sorted(findings[len(static) :]) == sorted(f"- **minor** ({who}): {note}" for who, note in comments.items())
    assert f"idempotency key `{result.run_id}:1`" in text


def test_code_review_runs_from_the_cli_with_the_recorded_script(tmp_path: Path) -> None:
    """`moot run -w code_review --model scripted:...` as a user would: the review file appears."""
    home = tmp_path / "home"
    args = ("run", CHANGE, "-w", "code_review", "--model", f"scripted:{DATA / 'code_review_script.json'}", "--json")
    proc = subprocess.run(moot_cmd(*args), env=cli_env(home), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    finished = [e for e in events if e["type"] == "run_finished"]
    assert finished and finished[0]["data"]["winner"] == "request-changes"
    text = (home / "reviews" / "add-user-search-endpoint.md").read_text()
    assert "- Verdict: **request-changes**" in text
    assert "- **blocker** (static checks): S608 at app/users.py:7: " in text
    assert "- **minor** (security): Bind q as a query parameter" in text


def test_a_parallel_step_whose_agents_share_a_last_value_key_is_refused(tmp_path: Path) -> None:
    """The reason the reviewers write only history and rewards: give two of them `winner` and the
    workspace no longer loads, naming the stage and the key."""
    ws = tmp_path / "cr"
    shutil.copytree(builtin_path("code_review"), ws)
    policy = (ws / "policy.yaml").read_text().replace("winner: [chair]", "winner: [chair, security, correctness]")
    (ws / "policy.yaml").write_text(policy)
    with pytest.raises(WorkspaceError, match=r"stages\.yaml.*'review'.*'security' and 'correctness'.*'winner'"):
        load_workspace(ws)


def test_moot_graph_draws_the_code_review_panel(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.run(moot_cmd("graph", "-w", "code_review"), env=cli_env(home), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"^graph (TD|LR);?", out, re.M)
    for node in (*REVIEWERS, "scout", "intake", "chair", "clerk", "tools"):
        assert re.search(rf"stage_router -.-> {node};", out), node
        assert f"{node} --> stage_router;" in out
    assert not home.exists(), "drawing the graph must not write anything (no review folder, no store)"


# --- research ------------------------------------------------------------------------------------


async def run_research(script: Mapping[str, list[Any]]) -> tuple[Any, ScriptedChatModel, list[Event]]:
    model = ScriptedChatModel(script=playback(script))
    runtime = WorkspaceRunner.load("research", models={"default": model})
    bus = EventBus()
    events: list[Event] = []
    bus.add_handler(events.append)
    result = await runtime.orchestrator(InMemorySaver(), bus=bus).run(QUESTION)
    return result, model, events


def calls_of(model: ScriptedChatModel, agent: str) -> int:
    return len([c for c in model.calls if c["agent"] == agent])


def entered(events: list[Event]) -> list[str]:
    return [e.stage for e in events if e.type == "stage_entered"]


async def test_research_revises_when_the_critic_scores_low(research_script: dict[str, Any]) -> None:
    # the synthesizer says "final" in round 1: the low scores alone send the debate back
    assert research_script["synthesizer"][0]["next_stage"] == "final"
    result, model, events = await run_research(research_script)
    assert result.status == "finished" and result.state["stage"] == "final"
    assert result.state["round"] == 2
    assert entered(events) == ["init", "debate", "critique", "judgement", "debate", "critique", "judgement", "final"]
    assert {a: calls_of(model, a) for a in ("advocate", "skeptic", "critic", "synthesizer")} == {
        "advocate": 2, "skeptic": 2, "critic": 2, "synthesizer": 2
    }
    # round 2's positions were argued with round 1's reviews in view
    second_advocate = [c for c in model.calls if c["agent"] == "advocate"][1]["messages"][-1].content
    assert "fatigue is a confounder" in second_advocate
    # the revised position wins, and the answer is the last decision
    assert result.winner == "sleep-consolidates-v2"
    assert result.decision["round"] == 2 and result.decision["ranking"][0]["score"] == pytest.approx(1.6)
    assert result.decision["rationale"] == research_script["synthesizer"][1]["rationale"]
    decisions = [e for e in result.state["history"] if e["type"] == "decision"]
    assert [d["round"] for d in decisions] == [1, 2]
    assert decisions[0]["content"]["ranking"][0]["score"] == pytest.approx(0.9)  # below the 1.2 bar


async def test_research_skips_the_revision_when_the_critic_scores_high(research_script: dict[str, Any]) -> None:
    script = copy.deepcopy(research_script)
    for review in script["critic"][0]["reviews"]:
        review.update(evidence=0.8, rigor=0.7)
    result, model, events = await run_research(script)
    assert result.status == "finished" and result.state["round"] == 1
    assert entered(events) == ["init", "debate", "critique", "judgement", "final"]
    assert calls_of(model, "advocate") == 1 and calls_of(model, "critic") == 1
    assert result.winner == "sleep-consolidates"  # tied on score: the first proposed wins
    assert result.decision["rationale"] == research_script["synthesizer"][0]["rationale"]


async def test_research_revision_is_bounded_by_max_rounds(research_script: dict[str, Any]) -> None:
    script = copy.deepcopy(research_script)
    for answer in script["critic"]:
        for review in answer["reviews"]:
            review.update(evidence=0.2, rigor=0.3)
    result, model, events = await run_research(script)
    max_rounds = load_workspace("research").plan.max_rounds
    assert max_rounds == 3
    assert result.status == "finished" and result.state["stage"] == "final"
    assert result.state["round"] == max_rounds and calls_of(model, "critic") == max_rounds
    assert entered(events).count("debate") == max_rounds
    # still weak, still decided: the run ends with the best of the weak positions
    assert result.decision is not None and result.decision["ranking"][0]["score"] < 1.2
    assert result.winner == result.decision["ranking"][0]["candidate"]


async def test_research_revises_when_the_synthesizer_asks_even_with_good_scores(research_script: dict[str, Any]) -> None:
    script = copy.deepcopy(research_script)
    for review in script["critic"][0]["reviews"]:
        review.update(evidence=0.9, rigor=0.9)
    script["synthesizer"][0]["next_stage"] = "proposal"
    result, _, _ = await run_research(script)
    assert result.state["round"] == 2 and result.decision["round"] == 2


def test_the_examples_are_built_ins_and_load() -> None:
    assert {"demo", "code_review", "research"} <= set(BUILTIN)
    review = load_workspace("code_review")
    assert review.plan["review"].steps == (REVIEWERS,) and review.plan["review"].mode == "parallel"
    assert set(review.spec.mcp_servers) == {"review_desk"}
    assert review.policy.allowed("winner") == {"chair"}
    assert review.policy.allowed("rewards") == set(REVIEWERS)
    research = load_workspace("research")
    assert not research.spec.mcp_servers
    assert research.policy.allowed("rewards") == {"critic"}
    for ws in (review, research):
        assert ws.spec.description
