"""The review desk MCP server: files reviews as Markdown, once per idempotency key.

Driven through FastMCP's in-memory client, a real protocol session with a real server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from moot.tools.review_desk import INDEX_NAME, ReviewDesk, make_review_desk, slug

REVIEW = {
    "change": "Fix login: timeout!",
    "verdict": "request-changes",
    "summary": "The retry loop never ends when the server is down.",
    "findings": [
        {"reviewer": "readability", "severity": "nit", "note": "retry_forever is a misleading name."},
        {"reviewer": "correctness", "severity": "blocker", "note": "while True has no exit on\nConnectionError."},
    ],
}


async def call(client: Client, tool: str, args: dict[str, Any], **kw: Any) -> Any:
    result = await client.call_tool(tool, args, raise_on_error=False, **kw)
    if result.is_error:
        return "error: " + " ".join(getattr(b, "text", "") for b in result.content)
    content = result.structured_content or {}
    return content["result"] if set(content) == {"result"} else content


async def test_a_review_becomes_a_markdown_file(tmp_path: Path) -> None:
    async with Client(make_review_desk(tmp_path)) as c:
        posted = await call(c, "post_review", REVIEW)
        text = (tmp_path / "fix-login-timeout.md").read_text()
        assert posted["file"] == "fix-login-timeout.md" and posted["path"] == str(tmp_path / "fix-login-timeout.md")
        assert posted["review_id"] == "RV-00001" and posted["findings"] == 2 and posted["idempotency_key"] is None
        assert await call(c, "read_review", {"review_id": "RV-00001"}) == text
    lines = text.splitlines()
    assert lines[0] == "# Review: Fix login: timeout!"
    assert "- Verdict: **request-changes**" in lines
    assert "The retry loop never ends when the server is down." in lines
    # blockers first, and a note is kept on one line whatever the caller sent
    findings = [line for line in lines if line.startswith("- **")]
    assert findings == [
        "- **blocker** (correctness): while True has no exit on ConnectionError.",
        "- **nit** (readability): retry_forever is a misleading name.",
    ]


async def test_one_key_files_once_and_a_new_review_never_overwrites(tmp_path: Path) -> None:
    async with Client(make_review_desk(tmp_path)) as c:
        key = {"idempotency_key": "run-a:0"}
        answers = await asyncio.gather(*(call(c, "post_review", REVIEW, meta=key) for _ in range(4)))
        assert all(a == answers[0] for a in answers) and answers[0]["idempotency_key"] == "run-a:0"
        # the key names the call, not its arguments: a replay with other arguments changes nothing
        replay = await call(c, "post_review", {**REVIEW, "verdict": "approve"}, meta=key)
        assert replay == answers[0]
        second = await call(c, "post_review", {**REVIEW, "verdict": "approve", "findings": []}, meta={"idempotency_key": "run-b:0"})
        assert second["file"] == "fix-login-timeout-2.md" and second["review_id"] == "RV-00002"
        listed = await call(c, "list_reviews", {"change": "Fix login: timeout!"})
        assert [(r["review_id"], r["verdict"]) for r in listed] == [("RV-00001", "request-changes"), ("RV-00002", "approve")]
    assert sorted(p.name for p in tmp_path.glob("*.md")) == ["fix-login-timeout-2.md", "fix-login-timeout.md"]
    assert "**request-changes**" in (tmp_path / "fix-login-timeout.md").read_text()
    assert "No findings." in (tmp_path / "fix-login-timeout-2.md").read_text()


async def test_a_replay_restores_a_file_lost_after_the_commit(tmp_path: Path) -> None:
    """A process that died between the index commit and the file write: the retry writes it."""
    async with Client(make_review_desk(tmp_path)) as c:
        first = await call(c, "post_review", REVIEW, meta={"idempotency_key": "run-k:0"})
        Path(first["path"]).unlink()
        again = await call(c, "post_review", REVIEW, meta={"idempotency_key": "run-k:0"})
    assert again == first and Path(first["path"]).is_file()
    assert len(ReviewDesk(tmp_path).reviews()) == 1


async def test_keys_and_reviews_outlive_the_server_and_other_files_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "fix-login-timeout.md").write_text("someone's notes")
    async with Client(make_review_desk(tmp_path)) as c:
        posted = await call(c, "post_review", REVIEW, meta={"idempotency_key": "run-p:0"})
    assert posted["file"] == "fix-login-timeout-2.md"
    assert (tmp_path / "fix-login-timeout.md").read_text() == "someone's notes"
    async with Client(make_review_desk(tmp_path)) as c:  # a new server over the same folder
        assert await call(c, "post_review", REVIEW, meta={"idempotency_key": "run-p:0"}) == posted


async def test_the_folder_comes_from_the_environment_and_listing_tools_writes_nothing(
    tmp_path: Path, moot_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Client(make_review_desk()) as c:
        tools = {t.name: t for t in await c.list_tools()}
        assert set(tools) == {"post_review", "list_reviews", "read_review"}
        schema = tools["post_review"].input_schema
        assert schema["properties"]["verdict"]["enum"] == ["approve", "request-changes", "reject"]
        assert set(schema["required"]) == {"change", "verdict", "summary"}
        assert not moot_home.exists(), "listing the tools must write nothing"
        await call(c, "post_review", REVIEW)
    assert (moot_home / "reviews" / "fix-login-timeout.md").is_file()
    monkeypatch.setenv("MOOT_REVIEWS_DIR", str(tmp_path / "elsewhere"))
    async with Client(make_review_desk()) as c:
        await call(c, "post_review", REVIEW)
    assert (tmp_path / "elsewhere" / "fix-login-timeout.md").is_file() and (tmp_path / "elsewhere" / INDEX_NAME).is_file()


async def test_bad_input_gets_a_clear_refusal(tmp_path: Path) -> None:
    async with Client(make_review_desk(tmp_path)) as c:
        assert "has no letters or digits" in await call(c, "post_review", {**REVIEW, "change": "../.."})
        assert "summary is empty" in await call(c, "post_review", {**REVIEW, "summary": "   "})
        assert "verdict" in await call(c, "post_review", {**REVIEW, "verdict": "lgtm"})
        assert "review ids look like 'RV-00001'" in await call(c, "read_review", {"review_id": "42"})
        assert "unknown review 'RV-00009'" in await call(c, "read_review", {"review_id": "RV-00009"})
    assert not list(tmp_path.glob("*.md"))


def test_slugs_never_leave_the_folder() -> None:
    assert slug("Fix login: timeout!") == "fix-login-timeout"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("feature/ÜBER-cache") == "feature-ber-cache"
    assert len(slug("x" * 500)) == 60
