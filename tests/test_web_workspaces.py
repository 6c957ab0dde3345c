"""Workspaces on the page: the list; a workspace's files, graph picture (SVG by Graphviz), versions
and a diff between two; hot-reload status after a good and a refused edit; a workspace that does
not load, with its problems at file:line:column; bad input (an unknown workspace or version)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from webpages import PageServer, page_server, signed_in

from moot.workspace.loader import builtin_path

pytestmark = pytest.mark.usefixtures("fast_embedder")


def _broken(folder: Path) -> None:
    """A copy of the demo named `broken` whose critic has an unknown field on line 12."""
    target = folder / "broken"
    shutil.copytree(builtin_path("demo"), target)
    manifest = target / "moot.yaml"
    manifest.write_text(manifest.read_text().replace("name: demo", "name: broken", 1))
    with (target / "agents" / "critic.yaml").open("a") as out:
        out.write("bogus_field: 3\n")


@pytest.fixture
async def reloading(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with page_server(tmp_path, reload=True) as s:
        yield s


async def test_the_list_and_a_workspaces_files_graph_and_versions(reloading: PageServer) -> None:
    async with signed_in(reloading) as page:
        resp = await page.get("/ui/workspaces")
        assert resp.status_code == 200 and "/ui/workspaces/demo" in resp.text and "/ui/workspaces/gated_lg" in resp.text
        resp = await page.get("/ui/workspaces/gated_lg")
        assert resp.status_code == 200
        for text in ("moot.yaml", "agents/critic.yaml", "stages.yaml", "name: gated_lg", "Current version", "no reload since the server started"):
            assert text in resp.text, text
        assert str(reloading.folder) not in resp.text, "no server path on the page"
        svg = await page.get("/ui/workspaces/gated_lg/graph.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.startswith("<svg") and "stage_router" in svg.text and "synthesizer" in svg.text
        assert (await page.get("/ui/workspaces/nope/graph.svg")).status_code == 404
        resp = await page.get("/ui/workspaces/no-such-workspace")
        assert resp.status_code == 404 and 'role="alert"' in resp.text
        resp = await page.get("/ui/workspaces/..%2F..%2Fetc")
        assert resp.status_code == 404


async def test_a_reload_shows_its_status_a_new_version_and_the_diff(reloading: PageServer) -> None:
    ctx = reloading.app.state.ctx
    async with signed_in(reloading) as page:
        first = (await page.get("/ui/workspaces/gated_lg")).text
        manager = await ctx.hub.get("gated_lg")
        old = manager.current.short
        manifest = reloading.folder / "gated_lg" / "moot.yaml"
        manifest.write_text(manifest.read_text() + "\n# an edit seen by the page\n")
        result = await ctx.reloader.reload(manager, ["moot.yaml"])
        assert result.ok and result.changed
        new = manager.current.short
        resp = await page.get("/ui/workspaces/gated_lg")
        assert "Last reload" in resp.text and f"version <span class=\"mono\">{new}</span> replaced <span class=\"mono\">{old}</span>" in resp.text
        table = resp.text[resp.text.index('id="versions-title"'):resp.text.index('id="files-title"')]
        assert table.index(f'<td class="mono">{new}</td>') < table.index(f'<td class="mono">{old}</td>'), "newest first"
        assert "current" in table and "held" in table
        assert first != resp.text
        resp = await page.get("/ui/workspaces/gated_lg", params={"from": old, "to": new})
        assert resp.status_code == 200
        assert f"--- {old}/moot.yaml" in resp.text and "+# an edit seen by the page" in resp.text

        stages = reloading.folder / "gated_lg" / "stages.yaml"
        stages.write_text(stages.read_text().replace("initial:", "initial_stage:", 1))
        result = await ctx.reloader.reload(manager, ["stages.yaml"])
        assert not result.ok
        resp = await page.get("/ui/workspaces/gated_lg")
        assert "the edit was refused, still serving" in resp.text and f'<span class="mono">{new}</span>' in resp.text
        assert "<code>stages.yaml:" in resp.text, "the refused edit's problems name file:line:column"

        for params in ({"from": "zzzz", "to": new}, {"from": old, "to": ""}, {"from": "ab", "to": "cd"}):
            resp = await page.get("/ui/workspaces/gated_lg", params=params)
            assert resp.status_code == 422 and 'role="alert"' in resp.text, params


async def test_a_workspace_that_does_not_load_shows_its_problems_at_file_line_column(reloading: PageServer) -> None:
    _broken(reloading.folder)
    async with signed_in(reloading) as page:
        resp = await page.get("/ui/workspaces")
        assert "/ui/workspaces/broken" in resp.text
        resp = await page.get("/ui/workspaces/broken")
        assert resp.status_code == 200 and 'role="alert"' in resp.text
        assert "<code>agents/critic.yaml:12:1</code>: bogus_field: unknown field" in resp.text
        assert "fix: remove" in resp.text and "bogus_field: 3" in resp.text, "the files are still shown"
        assert str(reloading.folder) not in resp.text
        assert (await page.get("/ui/workspaces/broken/graph.svg")).status_code == 409


async def test_the_pages_need_a_login(reloading: PageServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=reloading.url) as anonymous:
        for address in ("/ui/workspaces", "/ui/workspaces/demo", "/ui/workspaces/demo/graph.svg"):
            resp = await anonymous.get(address)
            assert resp.status_code == 303 and resp.headers["location"].startswith("/ui/login"), address
