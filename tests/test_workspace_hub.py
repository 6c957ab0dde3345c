"""WorkspaceHub, WorkspaceManager and versions (issue 7), with the scripted model and real MCP sessions."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import CLASSIC

from moot.cli.main import main
from moot.errors import UsageError, WorkspaceError
from moot.events import Event, Subscription
from moot.models.scripted import ScriptedChatModel
from moot.workspace.hub import SEARCH_PATH_ENV, WorkspaceHub
from moot.workspace.loader import BUILTIN, builtin_path
from moot.workspace.manager import WorkspaceManager, UnknownWorkspaceError, VersionNotFoundError
from moot.workspace.version import content_hash, diff_versions, read_files


def copy_demo(target: Path, name: str = "demo") -> Path:
    shutil.copytree(builtin_path("demo"), target)
    if name != "demo":
        edit(target / "moot.yaml", "name: demo", f"name: {name}")
    return target


def copy_classic(target: Path, name: str = "classic") -> Path:
    """A copy of the classic fixture workspace (the demo's shape before issue 11), named `name`."""
    shutil.copytree(CLASSIC, target)
    if name != "classic":
        edit(target / "moot.yaml", "name: classic", f"name: {name}")
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def drain(sub: Subscription) -> list[Event]:
    """The events a subscription holds now."""
    found = []
    while True:
        try:
            event = sub.get_nowait()
        except asyncio.QueueEmpty:
            return found
        if event is not None:
            found.append(event)


def hub_of(search: list[Path], script: Any, **kwargs: Any) -> WorkspaceHub:
    return WorkspaceHub(search, models={"default": ScriptedChatModel(script=script)}, **kwargs)


# -- finding workspaces ----------------------------------------------------------------------------


def test_names_are_builtins_and_the_search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shelf = tmp_path / "shelf"
    copy_demo(shelf / "alpha", "alpha")
    copy_demo(shelf / "beta_folder", "beta")  # the name is moot.yaml's, not the folder's
    (shelf / "not_a_workspace").mkdir()
    single = copy_demo(tmp_path / "gamma", "gamma")  # an entry may be a workspace folder itself
    broken = shelf / "broken"
    broken.mkdir()
    (broken / "moot.yaml").write_text("name: [unclosed\n")  # listed by folder name, reported on use

    monkeypatch.setenv(SEARCH_PATH_ENV, f"{shelf}{__import__('os').pathsep}{single}")
    hub = WorkspaceHub()
    assert hub.names() == sorted({*BUILTIN, "alpha", "beta", "gamma", "broken"})
    assert hub.path_of("beta") == shelf / "beta_folder"
    assert hub.path_of("demo") == builtin_path("demo")
    assert WorkspaceHub([tmp_path / "missing"]).names() == sorted(BUILTIN)


def test_a_folder_shadows_a_builtin_of_the_same_name(tmp_path: Path) -> None:
    mine = copy_demo(tmp_path / "my_demo")
    assert WorkspaceHub([mine]).path_of("demo") == mine


async def test_unknown_workspace_is_a_clear_error(tmp_path: Path) -> None:
    async with WorkspaceHub([tmp_path]) as hub:
        with pytest.raises(UnknownWorkspaceError) as err:
            await hub.get("nope")
    assert isinstance(err.value, WorkspaceError)
    message = str(err.value)
    assert "'nope'" in message and "demo" in message and SEARCH_PATH_ENV in message and str(tmp_path) in message


async def test_a_workspace_loads_once_for_concurrent_requests(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    copy_demo(tmp_path / "ws", "mine")
    loads: list[str] = []
    async with hub_of([tmp_path], demo_script) as hub:
        hub.on_load(lambda m: loads.append(m.name))
        managers = await asyncio.gather(*(hub.get("mine") for _ in range(5)))
        by_path = await hub.get(str(tmp_path / "ws"))
    assert all(m is managers[0] for m in managers) and by_path is managers[0]
    assert loads == ["mine"] and isinstance(managers[0], WorkspaceManager)


async def test_an_invalid_workspace_is_reported_and_not_kept(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    ws = copy_demo(tmp_path / "ws", "mine")
    edit(ws / "stages.yaml", "agents: [optimistic, [critic", "agents: [optimistic, [critc")
    async with hub_of([tmp_path], demo_script) as hub:
        with pytest.raises(WorkspaceError, match=r"stages\.yaml:\d+.*critc"):
            await hub.get("mine")
        assert hub.loaded == []
        edit(ws / "stages.yaml", "[critc", "[critic")
        manager = await hub.get("mine")
        assert (await manager.run("Plan a weekend in Porto")).status == "finished"


# -- versions ----------------------------------------------------------------------------------------


def test_hash_covers_exactly_the_loaders_files(tmp_path: Path) -> None:
    a = copy_classic(tmp_path / "a")
    b = copy_classic(tmp_path / "b")
    first = content_hash(a)
    assert first == content_hash(b) and len(first) == 64  # the content names it, not the place
    (a / "README.md").write_text("notes")
    (a / "agents" / ".critic.yaml.swp").write_text("junk")
    assert content_hash(a) == first
    edit(a / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
    second = content_hash(a)
    assert second != first
    (a / "agents" / "extra.yml").write_text("name: extra\nprompt: hi\n")
    assert content_hash(a) not in (first, second)
    (a / "agents" / "extra.yml").unlink()
    edit(a / "agents" / "critic.yaml", "You are the strict critic", "You are the critic")
    assert content_hash(a) == first  # an undone edit is the old version again
    assert sorted(read_files(a)) == ["agents/booking.yaml", "agents/critic.yaml", "agents/devils_advocate.yaml",
                                    "agents/optimistic.yaml", "agents/synthesizer.yaml", "moot.yaml", "policy.yaml", "stages.yaml"]


def test_diff_versions_shows_edits_additions_and_removals() -> None:
    old = {"moot.yaml": "name: demo\nmax_repairs: 2\n", "agents/a.yaml": "name: a\n"}
    new = {"moot.yaml": "name: demo\nmax_repairs: 3\n", "agents/b.yaml": "name: b\n"}
    text = diff_versions(old, new, old_label="v1", new_label="v2")
    assert "--- v1/moot.yaml\n+++ v2/moot.yaml\n" in text
    assert "-max_repairs: 2\n+max_repairs: 3\n" in text
    assert "--- v1/agents/a.yaml\n+++ /dev/null\n" in text and "-name: a\n" in text
    assert "--- /dev/null\n+++ v2/agents/b.yaml\n" in text and "+name: b\n" in text
    assert text.index("agents/a.yaml") < text.index("agents/b.yaml") < text.index("v1/moot.yaml")
    assert diff_versions(old, dict(old)) == ""
    assert "No newline at end of file" in diff_versions({"x": "a"}, {"x": "b"})
    with pytest.raises(UsageError):
        diff_versions(["not", "files"], old)  # type: ignore[arg-type]


async def test_runs_record_their_version_and_a_reload_swaps_for_new_runs(
    tmp_path: Path, demo_script: dict[str, Any], moot_home: Path
) -> None:
    ws = copy_demo(tmp_path / "ws", "mine")
    async with hub_of([tmp_path], demo_script) as hub:
        manager = await hub.get("mine")
        v1 = manager.current
        assert v1.hash == content_hash(ws) and v1.short == v1.hash[:12]
        started = hub.bus.subscribe()
        first = await manager.run("Plan a weekend in Porto")
        assert first.version == v1.hash
        assert [e.data["workspace_version"] for e in drain(started) if e.type == "run_started"] == [v1.hash]

        unchanged = await manager.reload()
        assert unchanged.ok and not unchanged.changed and unchanged.version is v1

        edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
        result = await manager.reload()
        assert result.ok and result.changed and result.files == ("agents/critic.yaml",)
        v2 = manager.current
        assert result.version is v2 and result.previous is v1 and v2.hash == content_hash(ws)
        assert v2.assembly is not v1.assembly and manager.graph(v2) is not manager.graph(v1)
        assert v1.workspace.agents["critic"].prompt.startswith("You are the critic")  # never mutated
        assert (await manager.run("Plan a weekend in Porto")).version == v2.hash
        orch, version = manager.orchestrator(version=v1.hash[:8])  # an older version, by prefix
        assert version is v1 and orch.version == v1.hash and orch.graph is manager.graph(v1)
        assert "-  You are the critic" in diff_versions(v1, v2)
        with pytest.raises(VersionNotFoundError, match="not loaded"):
            manager.version("abcdef12")

    archived = sorted(p.stem for p in (moot_home / "workspaces" / "mine" / "versions").glob("*.json"))
    assert archived == sorted([v1.hash, v2.hash])
    record = json.loads((moot_home / "workspaces" / "mine" / "versions" / f"{v2.hash}.json").read_text())
    assert record["files"] == dict(v2.files) and record["root"] == str(ws.resolve())


async def test_old_versions_are_kept_while_runs_use_them(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    ws = copy_demo(tmp_path / "ws", "mine")
    async with hub_of([tmp_path], demo_script, keep_recent=0) as hub:
        manager = await hub.get("mine")
        v1 = manager.current
        async with manager.use(v1):
            edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
            assert (await manager.reload()).changed
            assert manager.version(v1.hash) is v1 and manager.in_use(v1) == 1
        with pytest.raises(VersionNotFoundError):
            manager.version(v1.hash)  # dropped once its last run ended (keep_recent=0)
        assert [v.hash for v in manager.versions] == [manager.current.hash]


async def test_models_are_reused_unless_their_entry_changes(tmp_path: Path, classic_script: dict[str, Any]) -> None:
    ws = copy_classic(tmp_path / "ws", "mine")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(classic_script))
    edit(ws / "moot.yaml", "provider: local", f"provider: scripted\n    script: {script}\n    latency: 0.0 #")
    edit(ws / "moot.yaml", "max_tokens: 640", "# no max_tokens for the scripted model")
    async with WorkspaceHub([tmp_path]) as hub:  # models made from moot.yaml
        manager = await hub.get("mine")
        model = manager.current.assembly.models["default"]
        assert isinstance(model, ScriptedChatModel)
        edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
        assert (await manager.reload()).changed
        assert manager.current.assembly.models["default"] is model
        made = manager._models.made_count
        edit(ws / "moot.yaml", "latency: 0.0", "latency: 0.001")
        assert (await manager.reload()).changed
        remade = manager.current.assembly.models["default"]
        assert remade is not model and remade.latency == 0.001 and manager._models.made_count == made + 1
        assert (await manager.run("Plan a weekend in Porto")).status == "finished"

        # an edit that makes a model and then fails elsewhere must not cost the serving model its reuse
        booking = ws / "agents" / "booking.yaml"
        edit(ws / "moot.yaml", "latency: 0.001", "latency: 0.002")
        edit(booking, "tools: [search_flights", "tools: [teleport, search_flights")  # found out only when tools bind
        failed = await manager.reload()
        assert not failed.ok and "teleport" in failed.problems[0] and manager._models.made_count == made + 2
        edit(ws / "moot.yaml", "latency: 0.002", "latency: 0.001")
        edit(booking, "tools: [teleport, ", "tools: [")
        edit(ws / "stages.yaml", "max_rounds: 2", "max_rounds: 3")
        assert (await manager.reload()).changed
        assert manager.current.assembly.models["default"] is remade and manager._models.made_count == made + 2


async def test_mcp_sessions_are_shared_until_the_servers_change(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    ws = copy_demo(tmp_path / "ws", "mine")
    async with hub_of([tmp_path], demo_script, keep_recent=0) as hub:
        manager = await hub.get("mine")
        v1 = manager.current
        tools = v1.assembly.tools
        assert tools is not None and {t.name for t in tools.tools()} >= {"search_hotels", "book"}
        edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")
        await manager.reload()
        v2 = manager.current
        assert v2.assembly.tools is tools  # same servers: same session
        async with manager.use(v2):
            edit(ws / "moot.yaml", "builtin: travel", "builtin: travel\n    timeout_s: 20")
            result = await manager.reload()
            assert result.changed and manager.current.assembly.tools is not tools
            session = manager._held[v2.hash].tools
            assert session is not None and not session.closed  # a run still uses v2's servers
            run = await manager.run("Plan a weekend in Porto")
            assert run.status == "finished" and any(e["type"] == "tool_result" for e in run.state["history"])
        await asyncio.sleep(0.05)  # the release closes in the background
        assert session.closed
        current = manager._held[manager.current.hash].tools
        assert current is not None and not current.closed
    assert current.closed  # the hub closed its workspaces' sessions


async def test_a_renamed_workspace_is_refused(tmp_path: Path, demo_script: dict[str, Any]) -> None:
    ws = copy_demo(tmp_path / "ws", "mine")
    async with hub_of([tmp_path], demo_script) as hub:
        manager = await hub.get("mine")
        edit(ws / "moot.yaml", "name: mine", "name: theirs")
        result = await manager.reload()
    assert not result.ok and result.version is manager.current
    assert "changed from 'mine' to 'theirs'" in result.problems[0] and "moot.yaml" in result.problems[0]


# -- moot workspace diff -------------------------------------------------------------------------------


async def test_cli_diff(tmp_path: Path, classic_script: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ws = copy_classic(tmp_path / "ws", "mine")
    async with hub_of([tmp_path], classic_script) as hub:
        manager = await hub.get("mine")
        v1 = manager.current
        edit(ws / "stages.yaml", "max_rounds: 2", "max_rounds: 3")
        v2 = (await manager.reload()).version
    edit(ws / "agents" / "critic.yaml", "You are the critic", "You are the strict critic")

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["workspace", "diff", str(ws)]) == 0
    out = capsys.readouterr().out
    assert f"--- {v2.short}/agents/critic.yaml" in out and "+++ working/agents/critic.yaml" in out
    assert "stages.yaml" not in out  # against the last version loaded, not the first

    assert await asyncio.to_thread(main, ["workspace", "diff", str(ws), "--from", v1.hash[:6], "--to", v2.hash[:6]]) == 0
    out = capsys.readouterr().out
    assert "-max_rounds: 2\n+max_rounds: 3\n" in out and "critic" not in out

    assert await asyncio.to_thread(main, ["workspace", "diff", str(ws), "--from", v2.short, "--to", v2.short]) == 0
    assert "no differences" in capsys.readouterr().err

    assert await asyncio.to_thread(main, ["workspace", "diff", str(ws), "--from", "ffff0000"]) == 2
    assert "no archived version 'ffff0000'" in capsys.readouterr().err
    fresh = copy_classic(tmp_path / "fresh", "fresh")
    assert await asyncio.to_thread(main, ["workspace", "diff", str(fresh)]) == 2
    assert "no archived version of workspace 'fresh'" in capsys.readouterr().err
