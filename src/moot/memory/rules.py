"""How an agent's procedural rules join its prompt (light: agents import it for every call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moot.memory.types import Procedure

RULES_HEADING = "## Instructions and rules learned from experience"


def build_prompt(base_prompt: str, procedure: Procedure | str | None) -> str:
    """The agent's prompt: its base prompt, then its current rules (a `Procedure`, text or None)."""
    text = getattr(procedure, "text", None) if not isinstance(procedure, str) else procedure
    text = text or ""
    if not text.strip():
        return base_prompt
    return f"{base_prompt.rstrip()}\n\n{RULES_HEADING}\n{text.strip()}"


__all__ = ["RULES_HEADING", "build_prompt"]
