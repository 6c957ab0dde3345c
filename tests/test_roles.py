"""The built-in roles' mechanical choices: score aggregation and the weighted ranking."""

from __future__ import annotations

from moot.agents.base import AgentContext
from moot.agents.roles import EvaluatorAgent, rank
from moot.models.scripted import ScriptedChatModel
from moot.state import merge_rewards, reward_update

HISTORY = [{"type": "proposal", "content": {"candidates": [{"id": "a", "title": "A", "summary": "a"}, {"id": "b", "title": "B", "summary": "b"}]}}]


async def test_a_candidate_reviewed_twice_in_one_answer_counts_once_at_its_mean() -> None:
    answer = {"reviews": [
        {"candidate": "a", "comment": "x", "risk": 0.2},
        {"candidate": "a", "comment": "y", "risk": 0.6},
        {"candidate": "b", "comment": "z", "risk": 0.9},
    ]}
    model = ScriptedChatModel(script=[answer])
    critic = EvaluatorAgent("critic", prompt="review", writes=("history", "rewards"), dimensions=("risk",))
    result = await critic({"task": "t", "history": HISTORY}, AgentContext("critic", "proposal", 1, "r", "s", model))
    rewards = result.updates["rewards"]
    assert rewards["by_agent"]["critic"] == {"a": {"risk": 0.4}, "b": {"risk": 0.9}}
    assert rewards["counts"]["critic"] == {"a": {"risk": 1}, "b": {"risk": 1}}


def test_rank_uses_per_agent_means_over_rounds_and_the_weights() -> None:
    rewards: dict = {}
    for _round in range(2):  # "a" reviewed in two rounds, "b" only in the second
        rewards = merge_rewards(rewards, reward_update("critic", {"a": {"quality": 0.6}}))
    rewards = merge_rewards(rewards, reward_update("critic", {"b": {"quality": 0.9}}))
    assert rank(rewards, {}, ["a", "b"]) == [("b", 0.9), ("a", 0.6)]
    rewards = merge_rewards(rewards, reward_update("devil", {"a": {"risk": 0.1}, "b": {"risk": 0.9}}))
    assert [c for c, _ in rank(rewards, {"risk": -1.0}, ["a", "b"])] == ["a", "b"]
    assert [c for c, _ in rank(rewards, {"risk": 0.0}, ["a", "b"])] == ["b", "a"]
