"""The safe expression evaluator of exit rules and transitions: parse-time checks, evaluation, safety."""

from __future__ import annotations

from typing import Any

import pytest

from moot.errors import ConfigError, ExpressionError
from moot.expressions import Expression, state_names
from moot.stages.rules import ExitRule

STATE: dict[str, Any] = {
    "task": "Plan a trip to Lisbon",
    "stage": "synthesis",
    "round": 2,
    "history": [{"type": "proposal", "agent": "optimistic"}, {"type": "review", "agent": "critic"}],
    "rewards": {"totals": {"a": {"risk": 0.5}}, "by_agent": {}},
    "decision": {"winner": "a", "next_stage": "final"},
    "executed_agents_per_stage": {"proposal": ["optimistic", "critic"]},
}


def names(**extra: Any) -> dict[str, Any]:
    return state_names(STATE, **extra)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("decision.get('next_stage') == 'final'", True),
        ("decision['winner'] == 'a'", True),
        ("len(executed_agents_per_stage.get('proposal', [])) >= 2", True),
        ("len(history) == 2 and round <= max_rounds", True),
        ("'Lisbon' in task and task.lower().startswith('plan')", True),
        ("rewards['totals']['a']['risk'] > 0.4", True),
        ("state['stage'] == stage", True),
        ("max(1, runs) + min(3, 4) == 6", True),
        ("sum([1, 2, 3]) == 6 and abs(-1) == 1 and sorted([2, 1]) == [1, 2]", True),
        ("'critic' in executed and 'booking' not in executed", True),
        ("winner is None", True),
        ("any([done, False]) or all([True])", True),
        ("agent == 'critic' and candidates == ['a']", True),
        ("decision.get('next_stage') == 'proposal'", False),
        ("len(set(['a', 'a', 'b'])) == 2", True),
    ],
)
def test_expressions_evaluate_over_the_state(source: str, expected: bool) -> None:
    expr = Expression.parse(source, where="stages.yaml:3")
    assert expr.holds(names(executed=["optimistic", "critic"], runs=3, agent="critic", max_rounds=2, candidates=["a"])) is expected


def test_state_names_fill_missing_keys_and_copy_the_state() -> None:
    view = state_names({})
    assert view["history"] == [] and view["decision"] == {} and view["rewards"] == {}
    assert view["winner"] is None and view["task"] is None
    assert Expression.parse("len(history) == 0 and decision.get('x') is None").holds(view)
    state = {"history": [{"type": "note"}], "decision": {"next_stage": "final"}}
    view = state_names(state)
    view["history"].append({"type": "extra"})
    view["decision"]["next_stage"] = "booking"
    assert state == {"history": [{"type": "note"}], "decision": {"next_stage": "final"}}


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("decision.get('next_stage') ==", "syntax error"),
        ("len(history) >", "syntax error"),
        ("round = 2", "syntax error"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("nxt == 'final'", "unknown name 'nxt'"),
        ("__import__('os')", "unknown name '__import__'"),
        ("open('/etc/passwd')", "unknown name 'open'"),
        ("eval('1')", "unknown name 'eval'"),
        ("decision.__class__", "attribute '__class__' is not allowed"),
        ("().__class__.__bases__", "is not allowed"),
        ("task.format(x=1)", "attribute 'format' is not allowed"),
        ("history.append(1)", "attribute 'append' is not allowed"),
        ("rewards.update({})", "attribute 'update' is not allowed"),
        ("(lambda: 1)()", "Lambda is not allowed"),
        ("(x := 1)", "is not allowed"),
        ("[x for h in history]", "unknown name 'x'"),  # a comprehension binds its own names (h), no others
    ],
)
def test_bad_expressions_fail_at_parse_time_with_their_place(source: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        Expression.parse(source, where="stages.yaml:21")
    err = info.value
    assert isinstance(err, ConfigError)
    assert fragment in str(err)
    assert str(err).startswith("stages.yaml:21: invalid expression")
    assert err.where == "stages.yaml:21"


@pytest.mark.parametrize(
    "source",
    [
        "decision['missing'] == 1",
        "len(round) > 0",
        "history[10]",
        "2 ** 10000000 > 1",
        "'x' * 10000000 == ''",
        "round / 0 > 1",
    ],
)
def test_evaluation_failures_are_expression_errors_naming_the_place(source: str) -> None:
    expr = Expression.parse(source, where="stages.yaml:9")
    with pytest.raises(ExpressionError) as info:
        expr.evaluate(names())
    assert "evaluation failed" in str(info.value)
    assert str(info.value).startswith("stages.yaml:9: ")


def test_expressions_never_reach_python_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("builtins.eval was called")

    monkeypatch.setattr(builtins, "eval", refuse)
    assert Expression.parse("len(history) + round == 4").holds(names())


def test_parsing_is_cached_and_expressions_compare_by_source() -> None:
    a = Expression.parse("  round >= 2  ", where="x")
    assert a.source == "round >= 2"
    assert a == Expression.parse("round >= 2", where="x")
    assert a.holds(names()) and not a.holds(state_names({"round": 1}))


# --------------------------------------------------------------------------------------------
# exit rules (the agent-level use of expressions)


def test_exit_rule_forms() -> None:
    once = ExitRule.parse("once_per_stage", where="a.yaml:9")
    assert once == ExitRule.parse(None, where="a.yaml:9")
    assert not once.exited(0, names()) and once.exited(1, names())

    thrice = ExitRule.parse({"max_runs": 3}, where="a.yaml:9")
    assert [thrice.exited(n, names()) for n in range(5)] == [False, False, False, True, True]

    when = ExitRule.parse({"when": "len(history) >= 3"}, where="a.yaml:9")
    assert when.max_runs is None
    assert not when.exited(100, names())
    assert when.exited(0, state_names({"history": [{}, {}, {}]}))

    both = ExitRule.parse({"max_runs": 2, "when": "round >= 5"}, where="a.yaml:9")
    assert not both.exited(1, names()) and both.exited(2, names())
    assert both.exited(0, state_names({"round": 5}))


@pytest.mark.parametrize(
    "spec",
    ["twice", {"max_runs": 0}, {"max_runs": True}, {"max_runs": "2"}, {}, {"until": "round > 1"}, {"when": "round >"}, {"when": ""}, 3],
)
def test_bad_exit_rules_are_refused(spec: Any) -> None:
    with pytest.raises(ExpressionError) as info:
        ExitRule.parse(spec, where="agents/critic.yaml:10")
    assert str(info.value).startswith("agents/critic.yaml:10: ")
