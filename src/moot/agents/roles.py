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
from moot.agents.grounded import Grounding, build_menu, describe
from moot.agents.schemas import decision_schema, grounded_proposal_schema, proposal_schema, review_schema, with_candidate_enum
from moot.agents.skill import SkillAgent
from moot.constraints import Constraint, candidate_names, violations
from moot.errors import AgentOutputError
from moot.history import candidate_ids, gathered, why_nothing_feasible
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
    """Proposes candidates and scores its own (the optimistic agent pushes novelty).

    A grounded proposer (`grounded:` in its YAML) picks among bundles of offers the scout's
    searches returned (`moot.agents.grounded`); the workspace's hard constraints exclude
    options before the model sees them and, for a free proposer, candidates after it answers.
    Either way the excluded ones and their reasons are recorded in the proposal.
    """

    kind = "proposer"

    def output_schema(self, snapshot: Mapping[str, Any]) -> tuple[type[BaseModel], dict[str, Any], dict[str, Any]]:
        schema = proposal_schema(
            self.dimensions,
            max_candidates=int(self.options.get("max_candidates", 3)),
            ids=tuple(self.options.get("candidates") or ()),
        )
        return schema, schema.model_json_schema(), {}

    def brief_sections(self) -> tuple[tuple[str, str], ...]:
        return (
            ("memory", "What you remember"),
            ("task", "Task"),
            ("slots", "What the task asks"),
            ("options", "Options (real offers: choose among these ids)"),
            ("candidates", "Earlier candidates"),
            ("reviews", "Reviews"),
            ("decision", "Last decision"),
        )

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        grounding: Grounding | None = self.options.get("grounded")
        if grounding is None:
            return await super().__call__(snapshot, ctx)
        history = list(snapshot.get("history") or [])
        menu = build_menu(grounding, self.constraints, history, snapshot.get("slots"), task=snapshot.get("task"), results=gathered(history))
        if not menu.options:  # nothing feasible: say why, and ask the model nothing
            content = {"candidates": [], "excluded": menu.excluded, "menu": menu.record(), "infeasible": {"reasons": menu.why_empty}}
            return AgentResult(updates={"history": [self.entry("proposal", content, ctx)]})
        ids = tuple(o["id"] for o in menu.options)
        limit = min(int(self.options.get("max_candidates", 3)), len(ids))
        schema = grounded_proposal_schema(self.dimensions, ids, max_candidates=limit)
        values = self.prompt_values(snapshot, ctx)
        values["options"] = "\n".join(f"- {describe(o)}" for o in menu.options)
        output, usage = await self.ask(snapshot, ctx, schema, schema.model_json_schema(), {}, values)
        by_id = {o["id"]: o for o in menu.options}
        picked = {c.id: c for c in reversed(output.candidates)}  # the first pick of an id wins
        chosen = [c for c in output.candidates if picked.get(c.id) is c]
        cands = [{**by_id[c.id], "pitch": c.pitch} for c in chosen]
        content = {"candidates": cands, "excluded": menu.excluded, "menu": menu.record()}
        updates: dict[str, Any] = {"history": [self.entry("proposal", content, ctx)]}
        if self.dimensions:
            updates["rewards"] = reward_update(self.name, _scores(chosen, "id", self.dimensions))
        return AgentResult(updates={k: v for k, v in updates.items() if k in self.writes}, usage=usage)

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        return tuple(self.options.get("constraints") or ())

    def _complete(self, cands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """With fixed options (`candidates:`), every option is a candidate exactly once.

        Which options exist is not the model's choice: one it left out is added (titled by its
        id), a repeat is dropped. The model's framing of each option is kept where it gave one.
        """
        fixed = list(self.options.get("candidates") or ())
        if not fixed:
            return cands
        framed = {c["id"]: c for c in reversed(cands)}
        return [framed.get(option) or {"id": option, "title": option, "summary": "(not framed by the model)"} for option in fixed]

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        cands = self._complete([c.model_dump() for c in _unique_ids(output.candidates)])
        results = gathered(list(snapshot.get("history") or []))
        kept, excluded = [], []
        for cand in cands:
            names = candidate_names(cand, snapshot.get("slots"), task=snapshot.get("task"), results=results)
            reasons = violations(self.constraints, names)
            (excluded if reasons else kept).append({"id": cand["id"], "title": cand.get("title", ""), "reasons": reasons} if reasons else cand)
        content: dict[str, Any] = {"candidates": kept, "excluded": excluded}
        if not kept:
            content["infeasible"] = {"reasons": [f"{e['id']}: {'; '.join(e['reasons'])}" for e in excluded]}
        updates: dict[str, Any] = {"history": [self.entry("proposal", content, ctx)]}
        if self.dimensions and kept:
            scored = [c for c in _unique_ids(output.candidates) if c.id in {k["id"] for k in kept}]
            updates["rewards"] = reward_update(self.name, _scores(scored, "id", self.dimensions))
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
            return AgentResult()  # nothing feasible was proposed: nothing to review, no model call
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
    means = dimension_means(rewards)
    ranked = []
    for cand in order + [c for c in means if c not in order]:
        dims = means.get(cand, {})
        score = sum(weights.get(dim, 1.0) * value for dim, value in dims.items())
        ranked.append((cand, round(score, 6)))
    position = {cand: i for i, (cand, _) in enumerate(ranked)}
    return sorted(ranked, key=lambda item: (-item[1], position[item[0]]))


def dimension_means(rewards: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Each candidate's score per dimension: the mean over the agents that gave one (each agent's
    own scores first averaged over its rounds)."""
    by_agent: Mapping[str, Scores] = rewards.get("by_agent", {}) if rewards else {}
    counts: Mapping[str, Scores] = rewards.get("counts", {}) if rewards else {}
    values: dict[str, dict[str, list[float]]] = {}
    for agent, scores in by_agent.items():
        for cand, dims in scores.items():
            for dim, total in dims.items():
                n = (counts.get(agent, {}).get(cand, {}).get(dim)) or 1
                values.setdefault(cand, {}).setdefault(dim, []).append(float(total) / n)
    return {cand: {dim: sum(v) / len(v) for dim, v in dims.items()} for cand, dims in values.items()}


def why_first(rewards: Mapping[str, Any], weights: Mapping[str, float], ranking: list[tuple[str, float]]) -> str:
    """Code's own account of the ranking: the winner's weighted score, dimension by dimension,
    against the runner-up's (what decided it, whatever the model's rationale says)."""
    means = dimension_means(rewards)
    winner, score = ranking[0]
    terms = ", ".join(
        f"{dim} {value:.2f}×{weights.get(dim, 1.0):g}" for dim, value in sorted(means.get(winner, {}).items())
    )
    text = f"{winner} ranks first with {score:.2f} ({terms})"
    if len(ranking) > 1:
        text += f"; next {ranking[1][0]} with {ranking[1][1]:.2f}"
    return text


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
        ids = candidate_ids(snapshot.get("history") or [])
        return [(c, s) for c, s in rank(snapshot.get("rewards") or {}, ctx.stage_weights, ids) if c in ids]

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        history = list(snapshot.get("history") or [])
        if not candidate_ids(history):
            return self._nothing_feasible(history, ctx)
        if not self._ranking(snapshot, ctx):
            raise AgentOutputError(self.name, "DecisionOutput", 0, "there are no scored candidates to decide between")
        return await super().__call__(snapshot, ctx)

    def _nothing_feasible(self, history: list[Mapping[str, Any]], ctx: AgentContext) -> AgentResult:
        """No candidate survived: decide "nothing feasible" with the reasons, without a model.

        The decision asks for the stage `final` (the workspace's transitions end the run on it)
        and names no winner, so nothing is acted on.
        """
        reasons = why_nothing_feasible(history) or ["no candidate was proposed"]
        decision = {
            "winner": None,
            "outcome": "infeasible",
            "reasons": reasons,
            "ranking": [],
            "weights": dict(ctx.stage_weights),
            "rationale": "Nothing feasible: " + "; ".join(reasons),
            "next_stage": "final",
            "round": ctx.round,
        }
        updates = {"winner": None, "decision": decision, "history": [self.entry("decision", decision, ctx)]}
        return AgentResult(updates={k: v for k, v in updates.items() if k in self.writes})

    def to_result(self, output: Any, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        ranking = self._ranking(snapshot, ctx)
        winner = ranking[0][0]
        decision = {
            "winner": winner,
            "ranking": [{"candidate": c, "score": s} for c, s in ranking],
            "weights": dict(ctx.stage_weights),
            "rationale": output.rationale,
            "why": why_first(snapshot.get("rewards") or {}, ctx.stage_weights, ranking),
            "next_stage": output.next_stage,
            "round": ctx.round,
        }
        return AgentResult(
            updates={"winner": winner, "decision": decision, "history": [self.entry("decision", decision, ctx)]}
        )


__all__ = ["EvaluatorAgent", "ProposerAgent", "SynthesizerAgent", "dimension_means", "rank", "why_first"]
