"""The review desk: a small FastMCP server that files code reviews as Markdown files.

The built-in `code_review` workspace's clerk posts its panel's verdict through it (design §5:
an agent acts only through MCP tools), and any MCP client can use it the same way. A review is
one Markdown file, `<folder>/<change>.md` (`<change>-2.md`, ... for later reviews of the same
change: a re-review never overwrites an earlier one), so the outcome of a deliberation is a file
a person can open, diff and commit next to the code.

The folder is `$MOOT_REVIEWS_DIR`, else `$MOOT_HOME/reviews`. A small SQLite index in it
(`.review_desk.db`) is the source of truth: every post is a row holding its rendered Markdown,
and the file is written from the row. That is what makes `post_review` idempotent by the key a
caller puts in the request's `_meta` (`{"idempotency_key": "<run id>:<position>"}`, as moot's
ToolRuntime does), like the travel server's `book`: the check and the insert share one
`BEGIN IMMEDIATE` transaction (so this holds across processes sharing the folder), a repeated key
returns the first post and files nothing new, and if a process died after the commit and before
the file was written, the repeated call writes it. Without a key, every call files a review.
Nothing is created until the first tool call, so listing the tools (`moot graph`) writes nothing.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal, get_args

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from moot.builtin.servers.diff_checks import check_diff as check_text
from moot.settings import env_var, moot_home, settings
from moot.tools.types import RETRY_PREFIX, idempotency_key

Verdict = Literal["approve", "request-changes", "reject"]
Severity = Literal["blocker", "major", "minor", "nit"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
SEVERITY_ORDER: tuple[str, ...] = get_args(Severity)
INDEX_NAME = ".review_desk.db"
REVIEWS_DIR_ENV = env_var("reviews_dir")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, change TEXT NOT NULL, file TEXT NOT NULL UNIQUE,
    verdict TEXT NOT NULL, findings INTEGER NOT NULL, markdown TEXT NOT NULL,
    idempotency_key TEXT UNIQUE, created_at REAL NOT NULL);
"""


class ReviewDeskError(ToolError):
    """A refusal the caller must act on (a change without a name, an unknown review): logged at INFO."""

    def __init__(self, message: str) -> None:
        super().__init__(message, log_level=logging.INFO)


class Finding(BaseModel):
    """One thing a reviewer found."""

    reviewer: str = Field(min_length=1, max_length=40, description="who found it, e.g. security")
    severity: Severity = Field(default="minor", description="blocker, major, minor or nit")
    note: str = Field(min_length=1, max_length=300, description="what was found and where, in one sentence")


class PostedReview(BaseModel):
    """A filed review, as `post_review` and `list_reviews` return it."""

    review_id: str
    change: str
    verdict: Verdict
    file: str
    """The file's name inside the folder (e.g. `fix-login-timeout.md`)."""
    path: str
    findings: int
    created_at: str
    idempotency_key: str | None = None


class CheckedLine(BaseModel):
    """A static-check finding on a line the change adds."""

    file: str
    line: int
    rule: str
    severity: Severity
    message: str


class CheckReport(BaseModel):
    """What `check_diff` found, and which files it could check (Python) or not."""

    findings: list[CheckedLine]
    checked: list[str]
    unchecked: list[str]


def reviews_folder() -> Path:
    """Where reviews are filed: `$MOOT_REVIEWS_DIR`, else `$MOOT_HOME/reviews`."""
    configured = settings().reviews_dir
    return configured.expanduser() if configured else moot_home() / "reviews"


def slug(change: str) -> str:
    """A file-name-safe stem for a change (`Fix login: timeout!` → `fix-login-timeout`); it can
    never leave the folder (no separators, no dots)."""
    stem = re.sub(r"[^a-z0-9]+", "-", change.lower()).strip("-")[:60].strip("-")
    if not stem:
        raise ReviewDeskError(f"change {change!r} has no letters or digits; name the change (e.g. its title or branch)")
    return stem


def render_markdown(review_id: str, change: str, verdict: str, summary: str, findings: list[Finding], created: str, key: str | None) -> str:
    """The review file. Findings are sorted by severity (blockers first), then kept in order."""
    ordered = sorted(findings, key=lambda f: SEVERITY_ORDER.index(f.severity))
    lines = [
        f"# Review: {_one_line(change)}",
        "",
        f"- Verdict: **{verdict}**",
        f"- Review: {review_id}, filed {created}" + (f" (idempotency key `{key}`)" if key else ""),
        "",
        "## Summary",
        "",
        summary.strip(),
        "",
        "## Findings",
        "",
    ]
    lines += [f"- **{f.severity}** ({_one_line(f.reviewer)}): {_one_line(f.note)}" for f in ordered] or ["No findings."]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ReviewDesk:
    """The folder and its index: one connection, one lock; a post is one `BEGIN IMMEDIATE` transaction."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """Opened (and the folder created) at the first call, under the lock."""
        if self._conn is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.folder / INDEX_NAME, timeout=10, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once, so check-then-insert cannot race another process."""
        with self.lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # locked past the timeout: nothing was done
                raise ReviewDeskError(f"{RETRY_PREFIX} the review index is busy ({exc})") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def post(self, change: str, verdict: str, summary: str, findings: list[Finding], key: str | None) -> PostedReview:
        change, summary = _one_line(change), summary.strip()
        stem = slug(change)
        if verdict not in VERDICTS:
            raise ReviewDeskError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        if not summary:
            raise ReviewDeskError("summary is empty; say in a sentence or two why the verdict holds")
        with self.tx() as conn:
            done = conn.execute("SELECT * FROM reviews WHERE idempotency_key = ?", (key,)).fetchone() if key else None
            if done is None:
                seq = (conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM reviews").fetchone())[0]
                review_id = f"RV-{seq:05d}"
                created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                markdown = render_markdown(review_id, change, verdict, summary, findings, created, key)
                conn.execute(
                    "INSERT INTO reviews (seq, change, file, verdict, findings, markdown, idempotency_key, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, change, self._free_name(conn, stem), verdict, len(findings), markdown, key, time.time()),
                )
                done = conn.execute("SELECT * FROM reviews WHERE seq = ?", (seq,)).fetchone()
        self._materialize(done)
        return self._record(done)

    def _free_name(self, conn: sqlite3.Connection, stem: str) -> str:
        """`<stem>.md`, else `<stem>-2.md`, ...: neither filed before nor a file someone else put there."""
        n = 1
        while True:
            name = f"{stem}.md" if n == 1 else f"{stem}-{n}.md"
            taken = conn.execute("SELECT 1 FROM reviews WHERE file = ?", (name,)).fetchone()
            if not taken and not (self.folder / name).exists():
                return name
            n += 1

    def _materialize(self, row: sqlite3.Row) -> None:
        """Write a post's file unless it is there already; atomically, so no reader sees half a review."""
        path = self.folder / row["file"]
        if path.is_file():
            return
        tmp = path.with_name(f".{row['file']}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(row["markdown"], encoding="utf-8")
        os.replace(tmp, path)

    def _record(self, row: sqlite3.Row) -> PostedReview:
        created = datetime.fromtimestamp(row["created_at"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return PostedReview(
            review_id=f"RV-{row['seq']:05d}", change=row["change"], verdict=row["verdict"], file=row["file"],
            path=str(self.folder / row["file"]), findings=row["findings"], created_at=created,
            idempotency_key=row["idempotency_key"],
        )

    def reviews(self, change: str | None = None) -> list[PostedReview]:
        where, args = ("WHERE change = ?", (_one_line(change),)) if change else ("", ())
        with self.lock:
            rows = self.conn.execute(f"SELECT * FROM reviews {where} ORDER BY seq", args).fetchall()
        return [self._record(row) for row in rows]

    def markdown(self, review_id: str) -> str:
        prefix, _, number = review_id.strip().upper().partition("-")
        if prefix != "RV" or not number.isdigit():
            raise ReviewDeskError(f"unknown review {review_id!r}; review ids look like 'RV-00001'")
        with self.lock:
            row = self.conn.execute("SELECT markdown FROM reviews WHERE seq = ?", (int(number),)).fetchone()
        if row is None:
            raise ReviewDeskError(f"unknown review {review_id!r}; list_reviews shows the filed reviews")
        return str(row["markdown"])


def make_review_desk(folder: str | Path | None = None) -> FastMCP:
    """The review desk over `folder` (default: `reviews_folder()`, read now)."""
    desk = ReviewDesk(folder if folder is not None else reviews_folder())
    mcp = FastMCP(
        "moot-review-desk",
        instructions="A code-review desk: check a diff statically; file a review (verdict, summary, findings) as a Markdown file; list and read them.",
    )

    @mcp.tool
    async def post_review(
        change: Annotated[str, Field(min_length=1, max_length=120)],
        verdict: Verdict,
        summary: Annotated[str, Field(min_length=1, max_length=600)],
        ctx: Context,
        findings: Annotated[list[Finding], Field(max_length=12)] | None = None,
    ) -> PostedReview:
        """File a code review as a Markdown file named after the change. Retries are safe with an
        idempotency key in the request's `_meta`: a key already used returns its review again.

        Args:
            change: the change under review: its title, branch or pull-request name
            verdict: approve, request-changes or reject
            summary: why the verdict holds, in one to three sentences
            findings: what the reviewers found, one item each
        """
        return desk.post(change, verdict, summary, list(findings or []), idempotency_key(ctx))

    @mcp.tool
    async def check_diff(text: Annotated[str, Field(min_length=1, max_length=40_000)]) -> CheckReport:
        """Static checks (Ruff: security, bug-risk and error-prone patterns) of the Python that a
        unified diff adds. Findings are on added lines only, blockers first.

        Args:
            text: the change: a description with its unified diff (lines from `diff --git` or `--- a/`)
        """
        return CheckReport.model_validate(check_text(text).as_dict())

    @mcp.tool
    async def list_reviews(change: str | None = None) -> list[PostedReview]:
        """Every filed review, oldest first.

        Args:
            change: only the reviews of this change
        """
        return desk.reviews(change)

    @mcp.tool
    async def read_review(review_id: str) -> str:
        """The Markdown of a filed review.

        Args:
            review_id: the id post_review returned, e.g. RV-00001
        """
        return desk.markdown(review_id)

    return mcp


__all__ = [
    "VERDICTS",
    "CheckReport",
    "Finding",
    "PostedReview",
    "ReviewDesk",
    "ReviewDeskError",
    "make_review_desk",
    "render_markdown",
    "reviews_folder",
    "slug",
]
