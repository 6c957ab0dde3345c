"""Static checks of a change: Ruff over the Python a unified diff adds, findings on added lines only.

The code-review panel's verdict should not rest on what a small model noticed. What a linter can
see — `eval` of input, SQL built from strings, `shell=True`, `pickle.loads`, `yaml.load`, a
hard-coded password, a bare `except`, a mutable default — Ruff (its flake8-bandit `S` and
flake8-bugbear `B` rules, among others) finds reliably and quickly. Each hunk's new text is
linted on its own — dedented, cut to what parses (a hunk often starts inside a function and ends
on a `def` whose body is not shown), with the file's imports the diff shows put ahead of it — and
only findings on lines the change adds are kept, so the change is judged, not its context. Rules that need the whole
file (undefined names, `return` outside a function) are not selected. Non-Python files are
listed as not checked.

Severity: code execution, injection and unsafe deserialisation are `blocker`; other security
and bug-risk rules `major`; style-level rules `minor`.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import textwrap
from dataclasses import asdict, dataclass, field
from functools import lru_cache

SELECT = "S,B,E7,F632,BLE,ASYNC,PLW0603"
IGNORE = "S101,S311,E731,E741,B018"
"""`assert` (S101) and `random` (S311) flag too much in ordinary code; the others are style."""

BLOCKERS = frozenset({"S102", "S301", "S307", "S506", "S602", "S604", "S605", "S608", "S701", "S324"})
"""exec, pickle, eval, yaml.load, shell=True, SQL from strings, Jinja2 autoescape off, weak hashes."""

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_IMPORT = re.compile(r"^(import|from)\s+[\w.]+(\s+import\s+.+)?\s*$")


@dataclass(frozen=True)
class Finding:
    """One thing the checks found on a line the change adds."""

    file: str
    line: int
    rule: str
    severity: str
    message: str


@dataclass
class DiffReport:
    """The findings of a diff, and which files were checked or not."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"findings": [asdict(f) for f in self.findings], "checked": self.checked, "unchecked": self.unchecked}


@dataclass
class _Hunk:
    file: str
    lines: list[tuple[int, str, bool]] = field(default_factory=list)
    """(new line number, text, added?)"""


def check_diff(text: str) -> DiffReport:
    """Lint the Python that a unified diff (anywhere in `text`) adds; findings on added lines only."""
    report = DiffReport()
    hunks = _hunks(text)
    for hunk in hunks:
        if not hunk.file.endswith(".py"):
            if hunk.file not in report.unchecked:
                report.unchecked.append(hunk.file)
            continue
        if hunk.file not in report.checked:
            report.checked.append(hunk.file)
        imports = [t.strip() for h in hunks if h.file == hunk.file for _, t, _ in h.lines if _IMPORT.match(t)]
        report.findings += _lint(hunk, imports)
    report.findings.sort(key=lambda f: (["blocker", "major", "minor"].index(f.severity), f.file, f.line))
    return report


def _hunks(text: str) -> list[_Hunk]:
    hunks: list[_Hunk] = []
    current: _Hunk | None = None
    path = ""
    number = 0
    for raw in text.splitlines():
        if raw.startswith("+++ "):
            path = raw[4:].strip().split("\t")[0]
            path = path[2:] if path.startswith(("b/", "a/")) else path
            current = None
            continue
        if raw.startswith("--- ") or raw.startswith("diff --git") or raw.startswith("index "):
            current = None
            continue
        match = _HUNK.match(raw)
        if match and path:
            number = int(match.group(1))
            current = _Hunk(path)
            hunks.append(current)
            continue
        if current is None:
            continue
        if raw.startswith("+"):
            current.lines.append((number, raw[1:], True))
            number += 1
        elif raw.startswith(" ") or raw == "":
            current.lines.append((number, raw[1:], False))
            number += 1
        # "-" lines are gone from the new text; "\\ No newline" is noise
    return [h for h in hunks if any(added for _, _, added in h.lines)]


def _lint(hunk: _Hunk, imports: list[str]) -> list[Finding]:
    lines = _parsable(hunk.lines)
    body = textwrap.dedent("\n".join(text for _, text, _ in lines))
    header = _header(imports, body)
    rows = {len(header) + i + 1: (number, added) for i, (number, _, added) in enumerate(lines)}
    found = []
    for item in _ruff("\n".join([*header, body]) + "\n"):
        code = item.get("code")
        row = int((item.get("location") or {}).get("row", 0))
        number, added = rows.get(row, (0, False))
        if not code or not added:  # a syntax error of a partial hunk, or a finding in the context
            continue
        found.append(Finding(hunk.file, number, code, _severity(code), str(item.get("message", ""))))
    return found


def _parsable(lines: list[tuple[int, str, bool]]) -> list[tuple[int, str, bool]]:
    """The hunk's new text cut to something Python parses: a hunk ends where the diff's context
    ends, often on a `def ...:` whose body is not shown. Trailing context goes first, then leading
    context, one line at a time, until the rest parses (added lines are never dropped)."""
    first = next(i for i, (_, _, added) in enumerate(lines) if added)
    last = max(i for i, (_, _, added) in enumerate(lines) if added)
    for end in range(len(lines), last, -1):
        for start in range(0, first + 1):
            part = lines[start:end]
            if _parses(textwrap.dedent("\n".join(text for _, text, _ in part))):
                return part
    return lines[first : last + 1]


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


IMPLIED = ("pickle", "subprocess", "yaml", "hashlib", "marshal", "shelve", "tempfile", "requests", "os", "ssl", "xml", "jinja2", "telnetlib", "ftplib", "random", "urllib")
"""Modules whose use is judged by name (`pickle.loads`): when the hunk uses one but its import is
outside the diff, it is imported ahead of the hunk so Ruff knows what the name is."""


def _header(imports: list[str], body: str) -> list[str]:
    """Import lines put ahead of a hunk: the file's own imports the diff shows, and the implied ones."""
    head = list(dict.fromkeys(imports))
    imported = {m.split()[1].split(".")[0] for m in head if m.startswith("import ")}
    imported |= {m.split()[1].split(".")[0] for m in head if m.startswith("from ")}
    for name in IMPLIED:
        if name not in imported and re.search(rf"\b{name}\.", body):
            head.append(f"import {name}")
    return head


def _severity(code: str) -> str:
    if code in BLOCKERS:
        return "blocker"
    if code.startswith(("S", "B", "BLE", "ASYNC", "PLW")):
        return "major"
    return "minor"


def _ruff(source: str) -> list[dict[str, object]]:
    completed = subprocess.run(
        [_ruff_bin(), "check", "--isolated", "--no-cache", "--select", SELECT, "--ignore", IGNORE,
         "--output-format", "json", "--stdin-filename", "change.py", "-"],
        input=source, capture_output=True, text=True, timeout=30, check=False,
    )
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"ruff failed ({completed.returncode}): {completed.stderr.strip()[:300]}")
    return list(json.loads(completed.stdout or "[]"))


@lru_cache(maxsize=1)
def _ruff_bin() -> str:
    from ruff.__main__ import find_ruff_bin

    return str(find_ruff_bin())


__all__ = ["DiffReport", "Finding", "check_diff"]
