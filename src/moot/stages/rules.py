"""Agent-level exit rules: may this agent run (again) in the current visit of its stage?

Stage-level exit (`Stage.should_exit`) decides whether the whole stage is done; an agent's exit
rule decides only whether *this* agent has finished its part of it (seed: "once_per_stage").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moot.errors import ExpressionError
from moot.expressions import Expression


@dataclass(frozen=True)
class ExitRule:
    """An agent has exited its stage once it ran `max_runs` times or `when` holds.

    Written in YAML as `once_per_stage` (the default), `{max_runs: N}`, `{when: EXPR}`, or both
    keys together (whichever comes first).
    """

    max_runs: int | None = 1
    when: Expression | None = None

    @classmethod
    def parse(cls, spec: Any, *, where: str) -> ExitRule:
        if spec is None or spec == "once_per_stage":
            return cls()
        if isinstance(spec, str):
            raise ExpressionError(
                spec, "an exit rule is 'once_per_stage', {max_runs: N} or {when: EXPR}", where=where
            )
        if not isinstance(spec, Mapping) or not spec or set(spec) - {"max_runs", "when"}:
            raise ExpressionError(str(spec), "an exit rule has the keys 'max_runs' and/or 'when'", where=where)
        max_runs = spec.get("max_runs")
        if max_runs is not None and (not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1):
            raise ExpressionError(str(spec), "max_runs must be a positive integer", where=where)
        when = Expression.parse(spec["when"], where=where) if "when" in spec else None
        if max_runs is None and when is None:
            raise ExpressionError(str(spec), "an exit rule needs 'max_runs' or 'when'", where=where)
        return cls(max_runs=max_runs, when=when)

    def exited(self, runs: int, names: Mapping[str, Any]) -> bool:
        """True when the agent must not run again in this visit of the stage."""
        if self.max_runs is not None and runs >= self.max_runs:
            return True
        if self.when is not None and self.when.holds(names):
            return True
        return False


__all__ = ["ExitRule"]
