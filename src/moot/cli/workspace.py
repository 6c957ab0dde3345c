"""`moot workspace ...`: publish the JSON Schemas of workspace files, scaffold and check workspaces.

The schemas come from the same pydantic models the loader validates with, so an editor that
uses them (`# yaml-language-server: $schema=...`) agrees with moot about every field.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from moot.errors import UsageError
from moot.workspace.loader import builtin_path, load_workspace, validate_workspace
from moot.workspace.spec import NAME, AgentSpec, PolicySpec, StagesSpec, WorkspaceSpec

SCHEMAS: dict[str, Any] = {
    "moot.yaml": WorkspaceSpec,
    "agents/*.yaml": AgentSpec,
    "stages.yaml": StagesSpec,
    "policy.yaml": PolicySpec,
}


def schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each workspace file, keyed by its path pattern."""
    return {name: model.model_json_schema() for name, model in SCHEMAS.items()}


def scaffold(target: Path, name: str) -> Path:
    """Write a working workspace at `target` (a copy of the commented demo, renamed)."""
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} exists and is not empty; choose a new folder")
    shutil.copytree(builtin_path("demo"), target, dirs_exist_ok=True)
    for path, key in ((target / "moot.yaml", "name"), (target / "eval" / "tasks.yaml", "workspace")):
        if path.is_file():  # the task set names its workspace too, so `moot eval NAME` runs it as copied
            text = path.read_text(encoding="utf-8").replace(f"{key}: demo", f"{key}: {name}", 1)
            path.write_text(text, encoding="utf-8")
    load_workspace(target)  # what we write must load
    return target


def add_workspace_parser(sub: Any) -> None:
    ws = sub.add_parser("workspace", help="workspace files: JSON Schemas, scaffolding, validation")
    ws_sub = ws.add_subparsers(dest="workspace_command", required=True)
    schema = ws_sub.add_parser("schema", help="print the JSON Schemas of moot.yaml, agents/*.yaml and stages.yaml")
    schema.add_argument("-o", "--output", default=None, help="write one <file>.schema.json per file into this folder")
    new = ws_sub.add_parser("new", help="write a working workspace (the demo, renamed) into a new folder")
    new.add_argument("name")
    new.add_argument("--dir", default=None, help="folder to create (default: ./NAME)")
    graph = ws_sub.add_parser("graph", help="print the workspace's graph as Mermaid; draw it offline with --png/--svg (Graphviz)")
    graph.add_argument("dir", help="workspace folder (or built-in name)")
    graph.add_argument("--png", default=None, metavar="FILE", help="also draw the graph as a PNG into FILE")
    graph.add_argument("--svg", default=None, metavar="FILE", help="also draw the graph as an SVG into FILE")
    check = ws_sub.add_parser(
        "validate", help="check a workspace and report every problem (file:line:col: message (fix: ...)); exit 2 if any"
    )
    check.add_argument("dir")


def run_workspace(args: argparse.Namespace) -> int:
    if args.workspace_command == "schema":
        found = schemas()
        if args.output is None:
            print(json.dumps(found, indent=2))
            return 0
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        for name, schema in found.items():
            file = folder / (name.replace("/*", "").replace(".yaml", "") + ".schema.json")
            file.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
            print(file)
        return 0
    if args.workspace_command == "new":
        if not re.fullmatch(NAME, args.name):
            raise UsageError(f"workspace name {args.name!r}: use lowercase letters, digits and _ (starting with a letter)")
        target = scaffold(Path(args.dir or args.name), args.name)
        print(f"wrote workspace {args.name!r} in {target}; run it with: moot run \"...\" -w {target}")
        return 0
    if args.workspace_command == "graph":
        return _graph(args)
    return validate(args.dir)


def validate(folder: str) -> int:
    """Print every problem of the workspace at `folder` to stderr, one per line, and return 2;
    or print a one-line summary and return 0."""
    problems = validate_workspace(folder)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"moot: {len(problems)} problem{'s' if len(problems) > 1 else ''} in workspace {folder}", file=sys.stderr)
        return 2
    ws = load_workspace(folder)
    print(f"{ws.root}: workspace {ws.name!r} is valid ({len(ws.agents)} agents, {len(ws.plan.stages)} stages)")
    return 0


def _graph(args: argparse.Namespace) -> int:
    """Mermaid on standard output; each picture asked for is drawn before anything is printed."""
    from moot.graph import picture  # LangGraph loads only for the command that draws
    from moot.workspace.runner import WorkspaceRunner

    runtime = WorkspaceRunner.load(args.dir)
    written = [picture.write_picture(runtime, path, fmt) for fmt, path in (("png", args.png), ("svg", args.svg)) if path]
    print(picture.mermaid(runtime))
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


__all__ = ["add_workspace_parser", "run_workspace", "scaffold", "schemas", "validate"]
