"""The terminal view of a deliberation: an EventBus handler that prints as the run goes.

It observes only: stages as they are entered, each agent as it starts and finishes (with its
tokens and time), the rewards table once the evaluators have spoken, the decision, and the
token totals. It rebuilds the rewards from `state_patch` events with the channel's own reducer,
so what it shows is what the state holds.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moot.cli.outcome_view import decision_panel, outcome_panel, result_line, says_something
from moot.events import Event
from moot.state import merge_rewards
from moot.templates import show


class LiveView:
    """Prints a run to a rich console; call it with each event (`bus.add_handler(view)`)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.rewards: dict[str, Any] = {}
        self.decision: dict[str, Any] | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.candidates: dict[str, dict[str, Any]] = {}

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.type}", None)
        if handler is not None:
            handler(event)

    def on_run_started(self, event: Event) -> None:
        verb = "resuming" if event.data.get("resumed") else "run"
        self.console.print(f"[bold]moot[/] {verb} [cyan]{event.run_id}[/] · session {event.session_id} · workspace {event.workspace}")
        self.console.print(f"task: {event.data.get('task', '')}")

    def on_stage_entered(self, event: Event) -> None:
        self.console.rule(f"[bold magenta]{event.stage}[/] · round {event.data.get('round', 1)}")

    def on_agent_started(self, event: Event) -> None:
        self.console.print(f"  [yellow]▶[/] {event.agent} thinking…")

    def on_agent_finished(self, event: Event) -> None:
        usage = event.data.get("usage", {})
        self.console.print(
            f"  [green]✔[/] {event.agent} wrote {', '.join(event.data.get('keys', [])) or 'nothing'}"
            f"  [dim]({usage.get('prompt_tokens', 0)}+{usage.get('completion_tokens', 0)} tokens, "
            f"{event.data.get('duration_s', 0):.2f}s)[/]"
        )

    def on_state_patch(self, event: Event) -> None:
        update = event.data.get("update") or {}
        if "rewards" in update:
            self.rewards = merge_rewards(self.rewards, update["rewards"])
        for entry in update.get("history") or []:
            show_entry = getattr(self, f"_show_{entry.get('type')}", None)
            if show_entry is not None:
                show_entry(entry.get("content") or {})
        if "decision" in update and update["decision"]:
            self.decision = update["decision"]
            self._rewards_table()
            self.console.print(decision_panel(self.decision, self.candidates))

    def _show_intake(self, c: dict[str, Any]) -> None:
        slots = {k: v for k, v in (c.get("slots") or {}).items() if k not in ("problems", "defaulted") and v not in (None, "", [])}
        self.console.print("    read: " + escape("; ".join(f"{k} {show(v)}" for k, v in slots.items()) or "nothing"))
        for line in c.get("defaults") or []:
            self.console.print(f"    [dim]default {escape(line)}[/]")
        for line in c.get("notes") or []:
            self.console.print(f"    [dim]note: {escape(line)}[/]")
        for line in c.get("problems") or []:
            self.console.print(f"    [red]cannot read:[/] {escape(line)}")

    def _show_gather(self, c: dict[str, Any]) -> None:
        for label, why in (c.get("skipped") or {}).items():
            self.console.print(f"    [dim]not searched: {label} ({escape(why)})[/]")

    def _show_proposal(self, c: dict[str, Any]) -> None:
        menu = c.get("menu")
        if menu:
            excluded = ", ".join(f"{k} ({n})" for k, n in (menu.get("excluded_by") or {}).items())
            self.console.print(
                f"    [dim]{menu.get('combinations', 0)} bundle(s) of real offers, {menu.get('feasible', 0)} offered"
                + (f"; excluded: {escape(excluded)}" if excluded else "") + "[/]"
            )
            for part, why in (menu.get("left_out") or {}).items():
                self.console.print(f"    [yellow]{escape(part)} left out:[/] {escape(why)}")
        for cand in c.get("candidates", []):
            self.candidates[cand["id"]] = cand
            self.console.print(f"    • [bold]{escape(cand['id'])}[/]: {escape(cand.get('title', ''))}")
            if cand.get("summary"):
                self.console.print(f"      {escape(cand['summary'])}")
            if says_something(cand.get("pitch")):
                self.console.print(f"      [dim]pitch: {escape(cand['pitch'])}[/]")
        for item in c.get("excluded", []):
            self.console.print(f"    [red]✗ excluded[/] {escape(str(item.get('title') or item.get('id', '')))}: {escape('; '.join(item.get('reasons', [])))}")
        for why in (c.get("infeasible") or {}).get("reasons", []):
            self.console.print(f"    [red]nothing feasible:[/] {escape(why)}")

    def _show_review(self, c: dict[str, Any]) -> None:
        for review in c.get("reviews", []):
            comment = review["comment"] if says_something(review.get("comment")) else "[dim](scores only: no argument given)[/]"
            self.console.print(f"    • on {escape(review['candidate'])}: {comment if comment.startswith('[dim]') else escape(comment)}")

    def _show_measure(self, c: dict[str, Any]) -> None:
        for cand, dims in (c.get("scores") or {}).items():
            self.console.print(f"    • {escape(cand)}: " + ", ".join(f"{d} {v:.2f}" for d, v in dims.items()))

    def _show_tool_result(self, c: dict[str, Any]) -> None:
        self.console.print(f"      [dim]{escape(result_line(c))}[/]")

    def _show_tool_error(self, c: dict[str, Any]) -> None:
        self.console.print(f"      [dim]{escape(str(c.get('error')))}[/]")

    def on_tool_call(self, event: Event) -> None:
        call = f"{event.data.get('tool')}({json.dumps(event.data.get('arguments', {}), ensure_ascii=False)})"
        if event.data.get("status") == "intent":
            self.tool_calls.append(event.data)
            self.console.print(f"    ↳ intends {escape(call)}")
        else:
            self.console.print(f"    [cyan]⚙[/] calling {escape(call)} [dim](attempt {event.data.get('attempt', 1)})[/]")

    def on_tool_result(self, event: Event) -> None:
        how = "replayed from the ledger" if event.data.get("replayed") else f"{float(event.data.get('latency_s', 0)):.2f}s"
        self.console.print(f"    [green]✔[/] {event.data.get('tool')} answered [dim]({how})[/]")

    def on_tool_error(self, event: Event) -> None:
        final = "" if event.data.get("final", True) else " [dim](will retry)[/]"
        self.console.print(
            f"    [red]✖[/] {event.data.get('tool')} attempt {event.data.get('attempt')}: {escape(str(event.data.get('error')))}{final}"
        )

    def on_policy_violation(self, event: Event) -> None:
        self.console.print(f"  [bold red]policy violation[/]: {event.data.get('message')}")

    def on_run_failed(self, event: Event) -> None:
        self.console.print(f"[bold red]run failed[/]: {event.data.get('error')}: {event.data.get('message')}")

    def on_run_finished(self, event: Event) -> None:
        acc: dict[str, Any] = event.data.get("accounting") or {}
        table = Table(title="tokens", show_edge=False)
        for column in ("agent", "model", "calls", "prompt", "completion", "seconds"):
            table.add_column(column, justify="left" if column in ("agent", "model") else "right")
        usage: dict[str, Any] = event.data.get("usage") or {}
        for agent, u in acc.get("by_agent", {}).items():
            table.add_row(agent, str(usage.get(agent, {}).get("model", "")), *_counts(u))
        total = acc.get("total") or {}
        table.add_row("[bold]total", "", *_counts(total))
        self.console.print(table)
        stages = acc.get("by_stage") or {}
        if stages:
            self.console.print(
                "by stage: " + " · ".join(f"{s} {int(u['prompt_tokens'])}+{int(u['completion_tokens'])}" for s, u in stages.items())
            )
        if "cost" in acc:
            missing = f" (no price for {', '.join(acc['unpriced'])})" if acc.get("unpriced") else ""
            self.console.print(f"estimated cost: {acc['cost']:.6f}{missing}")
        outcome = event.data.get("outcome")
        if outcome:
            self.console.print(outcome_panel(outcome))
        status = (outcome or {}).get("status", "done")
        colour = {"done": "green", "infeasible": "yellow"}.get(status, "red")
        self.console.print(f"[bold {colour}]{status}[/] · run {event.run_id}")

    def _rewards_table(self) -> None:
        totals: dict[str, dict[str, float]] = self.rewards.get("totals", {})
        if not totals:
            return
        dims = sorted({d for scores in totals.values() for d in scores})
        table = Table(title="rewards (totals; per agent below)", show_edge=False)
        table.add_column("candidate")
        for dim in dims:
            table.add_column(dim, justify="right")
        for cand, scores in totals.items():
            table.add_row(f"[bold]{cand}", *(f"{scores.get(d, 0):.2f}" for d in dims))
            for agent, by in self.rewards.get("by_agent", {}).items():
                if cand in by:
                    table.add_row(f"  [dim]{agent}", *(f"[dim]{by[cand][d]:.2f}" if d in by[cand] else "" for d in dims))
        self.console.print(table)


def _counts(u: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(int(u.get("calls", 0))),
        str(int(u.get("prompt_tokens", 0))),
        str(int(u.get("completion_tokens", 0))),
        f"{float(u.get('latency_s', 0)):.2f}",
    )


class JsonLines:
    """Prints every event as one JSON line (for scripts and tests: `moot run --json`)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(event.model_dump_json() + "\n")
        self.stream.flush()


__all__ = ["JsonLines", "LiveView"]
