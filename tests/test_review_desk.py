"""The review desk MCP server: files reviews as Markdown, once per idempotency key, and runs
static checks (Ruff) over the Python a diff adds.

Driven through FastMCP's in-memory client, a real protocol session with a real server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from moot.builtin.servers.review_desk import INDEX_NAME, ReviewDesk, make_review_desk, slug

REVIEW = {
    "change": "Fix login: timeout!",
    "verdict": "request-changes",
    "summary": "The retry loop never ends when the server is down.",
    "findings": [
        {"reviewer": "readability", "severity": "nit", "note": "retry_forever is a misleading name."},
        {"reviewer": "correctness", "severity": "blocker", "note": "while True has no exit on\nConnectionError."},
    ],
}

RISKY_DIFF = """Add a calculator and a user lookup

diff --git a/app/tools.py b/app/tools.py
index 1c0ffee..badc0de 100644
--- a/app/tools.py
+++ b/app/tools.py
@@ -10,5 +10,13 @@ import sqlite3
 def legacy(expr):
     return eval(expr)
 
 
+def calculate(request):
+    return eval(request.args["expr"])
+
+
+def lookup(db, name):
+    return db.execute(f"SELECT id FROM users WHERE name = '{name}'")
+
+
 def f():
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,2 +1,3 @@
 # Tools
+Adds a calculator and a user lookup.
 
"""
"""Lines of the new file: 11 an `eval` the change does not add (context), 15 an added `eval` of
input, 19 an added SQL f-string, 22 `def f():` whose body the hunk does not show (as written, the
hunk does not parse: Ruff alone would report only a syntax error). README.md is not Python."""
CLEAN_DIFF = RISKY_DIFF.replace('eval(request.args["expr"])', 'float(request.args["expr"])').replace(
    """f"SELECT id FROM users WHERE name = '{name}'\")""", '"SELECT id FROM users WHERE name = ?", (name,))'
)


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
        assert set(tools) == {"post_review", "check_diff", "list_reviews", "read_review"}
        assert tools["check_diff"].input_schema["required"] == ["text"]
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


async def test_check_diff_reports_what_ruff_finds_on_the_added_lines_only(tmp_path: Path) -> None:
    async with Client(make_review_desk(tmp_path)) as c:
        risky = await call(c, "check_diff", {"text": RISKY_DIFF})
        clean = await call(c, "check_diff", {"text": CLEAN_DIFF})
    # blockers at their lines in the new file; the context's eval (line 11) is not the change's,
    # and the hunk that ends on `def f():` without its body was still linted
    assert [(f["rule"], f["file"], f["line"], f["severity"]) for f in risky["findings"]] == [
        ("S307", "app/tools.py", 15, "blocker"),
        ("S608", "app/tools.py", 19, "blocker"),
    ]
    assert all(f["message"] for f in risky["findings"])
    assert risky["checked"] == ["app/tools.py"] and risky["unchecked"] == ["README.md"]
    assert clean == {"findings": [], "checked": ["app/tools.py"], "unchecked": ["README.md"]}
    assert not list(tmp_path.iterdir()), "checking a diff files nothing"


def test_slugs_never_leave_the_folder() -> None:
    assert slug("Fix login: timeout!") == "fix-login-timeout"
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("feature/ÜBER-cache") == "feature-ber-cache"
    assert len(slug("x" * 500)) == 60
