"""The built-in reasoning roles: proposer (optimistic), evaluator (critic, devil's advocate), synthesizer.

Each is a `SkillAgent` kind: the workspace gives the prompt and the dimensions; the role fixes
the output schema and how a validated answer becomes updates. Where a choice is mechanical the
role makes it deterministically rather than trusting a (possibly weak) model: the synthesizer's
winner is the best candidate under the stage's reward weights, and the model only explains the
choice and asks for the next stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from moot.agents.base import AgentContext, AgentResult
from moot.agents.schemas import decision_schema, proposal_schema, review_schema, with_candidate_enum
from moot.agents.skill import SkillAgent
from moot.errors import AgentOutputError
from moot.stages.router import candidate_ids
from moot.state import Scores, reward_update


def _scores(items: list[BaseModel], key: str, dimensions: tuple[str, ...]) -> Scores:
    """One agent's scores per candidate; a candidate scored twice in one answer gets the mean."""
    seen: dict[str, dict[str, list[float]]] = {}
    for item in items:
        dumped = item.model_dump()
        slot = seen.setdefault(dumped[key], {})
        for dim in dimensions:
            slot.setdefault(dim, []).append(float(dumped[dim]))
    return {cand: {dim: sum(v) / len(v) for dim, v in dims.items()} for cand, dims in seen.items()}


def _unique_ids(candidates: list[Any]) -> list[Any]:
    """Give repeated ids a suffix (`-2`, `-3`): a weak model repeats slugs; a retry would cost a call."""
    seen: dict[str, int] = {}
    out = []
    for cand in candidates:
        n = seen[cand.id] = seen.get(cand.id, 0) + 1
        out.append(cand if n == 1 else cand.model_copy(update={"id": f"{cand.id[:21]}-{n}"}))
    return out


class ProposerAgent(SkillAgent):
    """Proposes candidates and scores its own (the optimistic agent pushes novelty)."""

    kind = "proposer"

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        schema = proposal_schema(
            self.dimensions,
            max_candidates=int(self.options.get("max_candidates", 3)),
            ids=tuple(self.options.get("candidates") or ()),
        )
        return schema, schema.model_json_schema(), {}

    def brief_sections(self) -> tuple[tuple[str, str], ...]:
        return (("memory", "What you remember"), ("task", "Task"), ("candidates", "Earlier candidates"), ("reviews", "Reviews"), ("decision", "Last decision"))

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        cands = _unique_ids(output.candidates)
        updates: dict[str, Any] = {"history": [self.entry("proposal", {"candidates": [c.model_dump() for c in cands]}, ctx)]}
        if self.dimensions:
            updates["rewards"] = reward_update(self.name, _scores(cands, "id", self.dimensions))
        return AgentResult(updates=updates)


class EvaluatorAgent(SkillAgent):
    """Reviews the proposed candidates and scores them (critic: risk and flaws; devil: against the leader)."""

    kind = "evaluator"

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        known = candidate_ids(snapshot.get("history") or [])
        schema = review_schema(self.dimensions)
        json_schema = with_candidate_enum(schema.model_json_schema(), known)
        if known:  # one review per candidate is enough; a small model otherwise repeats itself
            json_schema["properties"]["reviews"]["maxItems"] = min(len(known), 6)
        return schema, json_schema, {"candidates": known}

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        if not candidate_ids(snapshot.get("history") or []):
            raise AgentOutputError(self.name, "ReviewOutput", 0, "there are no candidates to review; run a proposer first")
        return await super().__call__(snapshot, ctx)

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        reviews = output.reviews
        updates: dict[str, Any] = {"history": [self.entry("review", {"reviews": [r.model_dump() for r in reviews]}, ctx)]}
        if self.dimensions:
            updates["rewards"] = reward_update(self.name, _scores(reviews, "candidate", self.dimensions))
        return AgentResult(updates=updates)


def rank(rewards: Mapping[str, Any], weights: Mapping[str, float], order: list[str]) -> list[tuple[str, float]]:
    """Candidates by weighted score, best first; ties keep the order of proposal.

    A candidate's score on a dimension is the mean over the agents that scored it there, each
    agent's own scores first averaged over the rounds in which it gave them (`counts`): a
    candidate is favoured neither because more agents looked at it nor because it was reviewed
    again in a revision round. Dimensions without a weight count 1.0; a negative weight (e.g.
    risk) penalises.
    """
    by_agent: Mapping[str, Scores] = rewards.get("by_agent", {}) if rewards else {}
    counts: Mapping[str, Scores] = rewards.get("counts", {}) if rewards else {}
    means: dict[str, dict[str, list[float]]] = {}
    for agent, scores in by_agent.items():
        for cand, dims in scores.items():
            for dim, total in dims.items():
                n = (counts.get(agent, {}).get(cand, {}).get(dim)) or 1
                means.setdefault(cand, {}).setdefault(dim, []).append(float(total) / n)
    ranked = []
    for cand in order + [c for c in means if c not in order]:
        dims = means.get(cand, {})
        score = sum(weights.get(dim, 1.0) * (sum(vals) / len(vals)) for dim, vals in dims.items())
        ranked.append((cand, round(score, 6)))
    position = {cand: i for i, (cand, _) in enumerate(ranked)}
    return sorted(ranked, key=lambda item: (-item[1], position[item[0]]))


class SynthesizerAgent(SkillAgent):
    """Weighs the rewards with the stage's weights, picks the winner, and writes the decision."""

    kind = "synthesizer"

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        schema = decision_schema(self.options.get("next_stages"))
        return schema, schema.model_json_schema(), {}

    def prompt_values(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> dict[str, str]:
        values = super().prompt_values(snapshot, ctx)
        ranking = self._ranking(snapshot, ctx)
        values["ranking"] = "\n".join(f"{i}. {cand} (weighted score {score:.2f})" for i, (cand, score) in enumerate(ranking, 1))
        return values

    def _ranking(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> list[tuple[str, float]]:
        return rank(snapshot.get("rewards") or {}, ctx.stage_weights, candidate_ids(snapshot.get("history") or []))

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        if not self._ranking(snapshot, ctx):
            raise AgentOutputError(self.name, "DecisionOutput", 0, "there are no scored candidates to decide between")
        return await super().__call__(snapshot, ctx)

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        ranking = self._ranking(snapshot, ctx)
        winner = ranking[0][0]
        decision = {
            "winner": winner,
            "ranking": [{"candidate": c, "score": s} for c, s in ranking],
            "weights": dict(ctx.stage_weights),
            "rationale": output.rationale,
            "next_stage": output.next_stage,
            "round": ctx.round,
        }
        return AgentResult(
            updates={"winner": winner, "decision": decision, "history": [self.entry("decision", decision, ctx)]}
        )


__all__ = ["EvaluatorAgent", "ProposerAgent", "SynthesizerAgent", "rank"]
