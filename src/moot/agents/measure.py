"""A measuring agent: scores candidates by formulas over their facts, with no model (design §3b).

What can be measured should not be guessed: a bundle's value for money is its total against the
budget or against the cheapest option, not a 135M model's impression of it. A `measure` agent
declares one `=expression` per dimension over a candidate's `facts`, `parts`, the `slots` and
`all_facts` (every candidate's facts, to compare); each score is clipped to [0, 1] and written to
`rewards` like an evaluator's, so the synthesizer weighs it with the stage's weights. A
candidate without the facts a formula needs gets no score on that dimension (and the history
entry says so), rather than a made-up one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moot.agents.base import AgentContext, AgentResult
from moot.agents.skill import SkillAgent
from moot.constraints import candidate_names
from moot.errors import ExpressionError
from moot.expressions import Expression
from moot.history import candidates_of, gathered
from moot.state import reward_update


class MeasureAgent(SkillAgent):
    """Scores every candidate on its `scores:` dimensions by formula."""

    kind = "measure"

    @property
    def formulas(self) -> Mapping[str, Expression]:
        return self.options.get("scores") or {}

    async def __call__(self, snapshot: Mapping[str, Any], ctx: AgentContext) -> AgentResult:
        candidates = candidates_of(snapshot.get("history") or [])
        if not candidates:
            return AgentResult()
        all_facts = [dict(c.get("facts") or {}) for c in candidates]
        results = gathered(list(snapshot.get("history") or []))
        scores: dict[str, dict[str, float]] = {}
        unscored: dict[str, str] = {}
        for cand in candidates:
            names = candidate_names(cand, snapshot.get("slots"), all_facts=all_facts, task=snapshot.get("task"), results=results)
            for dim, formula in self.formulas.items():
                try:
                    value = float(formula.evaluate(names))
                except (ExpressionError, TypeError, ValueError) as exc:
                    unscored[f"{cand['id']}.{dim}"] = getattr(exc, "reason", str(exc))
                    continue
                scores.setdefault(cand["id"], {})[dim] = round(min(1.0, max(0.0, value)), 6)
        content = {"scores": scores, "unscored": unscored}
        updates: dict[str, Any] = {"history": [self.entry("measure", content, ctx)]}
        if scores:
            updates["rewards"] = reward_update(self.name, scores)
        return AgentResult(updates=updates)


__all__ = ["MeasureAgent"]
