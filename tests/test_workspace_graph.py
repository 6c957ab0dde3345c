"""`moot workspace graph`: Mermaid of the compiled graph, SVG and PNG drawn offline by Graphviz."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import scripted_runtime

from moot.cli.main import main
from moot.graph.picture import PNG_SIGNATURE, PictureError, dot_source, drawable, mermaid, render

AGENTS = {
    "optimistic": ("proposer", "proposal"),
    "critic": ("evaluator", "proposal"),
    "devils_advocate": ("evaluator", "proposal"),
    "synthesizer": ("synthesizer", "synthesis"),
    "booking": ("booking", "booking"),
}
SVG = "{http://www.w3.org/2000/svg}"


def test_mermaid_labels_stages_and_agents(classic_script: dict[str, Any]) -> None:
    runtime, _ = scripted_runtime(classic_script)
    text = mermaid(runtime)
    assert re.search(r"^graph TD;", text, re.M)
    assert "stage_router(stage_router<hr/>" in text
    assert "stages = init → proposal → synthesis → booking → final" in text and "max_rounds = 2" in text
    for agent, (kind, stage) in AGENTS.items():
        node = re.search(rf"^\t{agent}\({agent}<hr/><small><em>(.*?)</em></small>\)", text, re.M | re.S)
        assert node, agent
        assert f"kind = {kind}" in node.group(1) and f"stages = {stage}" in node.group(1)
        assert f"stage_router -.-> {agent};" in text and f"{agent} --> stage_router;" in text
    assert "servers = travel" in text  # the tool node of the classic workspace's MCP server


def test_an_agent_in_two_stages_and_a_workspace_folder(workspace_copy: Path, classic_script: dict[str, Any]) -> None:
    stages = workspace_copy / "stages.yaml"
    stages.write_text(stages.read_text().replace("agents: [synthesizer]", "agents: [critic, synthesizer]", 1))
    runtime, _ = scripted_runtime(classic_script, workspace_copy)
    graph = drawable(runtime)
    assert graph.nodes["critic"].metadata == {"kind": "evaluator", "stages": ["proposal", "synthesis"], "writes": ["history", "rewards"]}
    assert 'label="critic\\nkind: evaluator\\nstages: proposal, synthesis\\nwrites: history, rewards"' in dot_source(graph)


def test_moot_graph_and_moot_workspace_graph_print_the_same(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], moot_home: Path
) -> None:
    capsys.readouterr()
    assert main(["workspace", "graph", str(workspace_copy)]) == 0
    first = capsys.readouterr()
    assert main(["graph", "-w", str(workspace_copy)]) == 0
    assert capsys.readouterr().out == first.out and "kind = evaluator" in first.out
    assert first.err == "" and not moot_home.exists()  # drawing writes nothing


def test_svg_and_png_are_drawn_offline(workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svg, png = tmp_path / "graph.svg", tmp_path / "graph.png"
    capsys.readouterr()
    assert main(["workspace", "graph", str(workspace_copy), "--svg", str(svg), "--png", str(png)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("---\nconfig:") and err.splitlines() == [f"wrote {png}", f"wrote {svg}"]

    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "workspace classic" in texts and "stage_router" in texts
    for agent, (kind, stage) in AGENTS.items():
        assert agent in texts and f"kind: {kind}" in texts and f"stages: {stage}" in texts
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert len(edges) == 14  # START→router, 7 conditional router→node, 6 node→router
    dashed = [g for g in edges if any(p.get("stroke-dasharray") for p in g.iter(f"{SVG}path"))]
    assert len(dashed) == 7

    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 600 and height > 150


def test_without_graphviz_the_error_says_what_to_install(
    workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, classic_script: dict[str, Any]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    target = tmp_path / "graph.svg"
    capsys.readouterr()
    assert main(["workspace", "graph", str(workspace_copy), "--svg", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not target.exists()
    assert captured.err.startswith("moot: error: drawing SVG needs Graphviz's `dot` command")
    assert "apt-get install graphviz" in captured.err
    runtime, _ = scripted_runtime(classic_script)
    with pytest.raises(PictureError, match="moot draws svg or png"):
        render(drawable(runtime), "gif")  # type: ignore[arg-type]


def test_an_unwritable_target_is_named(workspace_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "graph.png"
    assert main(["workspace", "graph", str(workspace_copy), "--png", str(target)]) == 2
    assert f"cannot write {target}" in capsys.readouterr().err
