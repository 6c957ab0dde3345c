"""Agent kinds a workspace YAML may name in `kind:`."""

from __future__ import annotations

from moot.agents.booking import BookingAgent
from moot.agents.intake import IntakeAgent
from moot.agents.measure import MeasureAgent
from moot.agents.roles import EvaluatorAgent, ProposerAgent, SynthesizerAgent
from moot.agents.scout import ScoutAgent
from moot.agents.skill import SkillAgent

KINDS: dict[str, type[SkillAgent]] = {
    cls.kind: cls
    for cls in (SkillAgent, IntakeAgent, ScoutAgent, ProposerAgent, EvaluatorAgent, MeasureAgent, SynthesizerAgent, BookingAgent)
}

__all__ = ["KINDS"]
