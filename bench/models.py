"""The embedded chat model's speed, and one demo deliberation on it (issue 3).

Prints: the model's first load in this process; prompt and generation tokens/s on a fixed prompt
(medians of a few repetitions, llama.cpp's own timings beside wall-clock rates); generation
tokens/s of a structured (schema-constrained) answer; then one full deliberation of the built-in
demo workspace on its default model (the embedded one): wall time, status and tokens per agent.

    python bench/models.py [--reps 5] [--threads N] [--model local] [--skip-demo]

Prompt caching is turned off for the measured calls (`cache_prompt=False`): repeating a prompt
would otherwise reuse its KV cache and report no prompt work at all. A 135M model may fail the
deliberation even after repair; the error is printed, with the tokens spent until then.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import AIMessage
from pydantic import BaseModel, Field

TASK = "Plan a 3-day trip to Lisbon under 1500 EUR"

# About 300 prompt tokens: long enough that prompt evaluation, not request overhead, dominates.
PROMPT = (
    "You are a travel assistant. A traveller is visiting Lisbon for three days in spring with a "
    "budget of 1500 EUR for everything except flights. They like history, tiled facades, views "
    "over the river, long walks, seafood and small family restaurants; they dislike queues, tourist "
    "traps and early mornings. They stay in Alfama and move on foot, by tram 28, by the metro and "
    "by the train to Belém and Sintra. Museums they mention: the Tile Museum, the Gulbenkian, the "
    "MAAT and the Coach Museum. Neighbourhoods: Alfama, Baixa, Chiado, Bairro Alto, Príncipe Real, "
    "Belém and the riverside from Cais do Sodré to LX Factory. They want one evening of fado, one "
    "sunset at a miradouro, and a day trip that is not too tiring. Prices to keep in mind: a tram "
    "ride costs 3 EUR, a 24-hour transport pass 7 EUR, a museum 5 to 15 EUR, lunch 12 to 20 EUR, "
    "dinner 20 to 40 EUR, a fado dinner about 50 EUR, a night in a guesthouse 90 to 130 EUR. "
    "Write a friendly, detailed description of the first day, hour by hour, with what it costs."
)


class DayPlan(BaseModel):
    """One day of a trip, as an agent of the demo might answer."""

    title: str = Field(max_length=60)
    morning: str = Field(max_length=160)
    afternoon: str = Field(max_length=160)
    evening: str = Field(max_length=160)
    cost_eur: int


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(name: str, calls: Callable[[], AIMessage], reps: int) -> None:
    """Run `calls` `reps` times; print median prompt and generation rates (engine and wall)."""
    prompt_rate, gen_rate, wall_gen, latency, prompt_tokens, output_tokens = [], [], [], [], [], []
    for _ in range(reps):
        started = time.perf_counter()
        message = calls()
        wall = time.perf_counter() - started
        usage = message.usage_metadata or {}
        meta = message.response_metadata
        latency.append(wall)
        prompt_tokens.append(usage.get("input_tokens", 0))
        output_tokens.append(usage.get("output_tokens", 0))
        if meta.get("prompt_tokens_per_s"):
            prompt_rate.append(meta["prompt_tokens_per_s"])
        if meta.get("output_tokens_per_s"):
            gen_rate.append(meta["output_tokens_per_s"])
        wall_gen.append(usage.get("output_tokens", 0) / wall)
    print(
        f"{name:<22} prompt {median(prompt_tokens):>4.0f} tok at {median(prompt_rate):6.1f} tok/s | "
        f"output {median(output_tokens):>4.0f} tok at {median(gen_rate):5.1f} tok/s "
        f"(end to end {median(wall_gen):5.1f} tok/s) | call {median(latency):5.2f} s "
        f"[medians of {reps}]"
    )


def bench_model(reps: int, threads: int | None) -> None:
    started = time.perf_counter()
    from moot.models.local import LocalLLMChatModel  # imports xllamacpp lazily, on build

    model = LocalLLMChatModel(max_tokens=128, n_threads=threads)
    built = time.perf_counter()
    model.engine()
    loaded = time.perf_counter()
    print(f"model                  {model.model_name}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"first load             {loaded - started:.2f} s (import+build {built - started:.2f} s, engine {loaded - built:.2f} s)")

    model.invoke("Hello", max_tokens=4)  # warm-up: first decode allocates buffers
    measure("plain text", lambda: model.invoke(PROMPT, cache_prompt=False), reps)
    # What `with_structured_output(DayPlan)` binds, called directly so that `cache_prompt`
    # reaches the model (a structured-output chain does not pass call kwargs on).
    def structured() -> AIMessage:
        message = model.invoke(PROMPT, response_format=DayPlan, max_tokens=256, cache_prompt=False)
        DayPlan.model_validate_json(message.text)  # constrained decoding: always valid
        return message

    measure("structured (DayPlan)", structured, reps)


def per_agent(usage: Mapping[str, Any]) -> None:
    """Print agent → tokens; read defensively: the usage shape may nest per stage."""
    if not usage:
        print("  (no usage recorded)")
        return
    print(f"  {'agent':<18}{'prompt':>8}{'output':>8}{'calls':>7}{'latency s':>11}  stages")
    total_p = total_c = 0
    for agent, u in usage.items():
        if not isinstance(u, Mapping):
            continue
        p, c = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
        total_p, total_c = total_p + p, total_c + c
        stages = u.get("stages") if isinstance(u.get("stages"), Mapping) else {}
        staged = ", ".join(
            f"{s}: {int(su.get('prompt_tokens') or 0)}+{int(su.get('completion_tokens') or 0)}"
            for s, su in stages.items()
            if isinstance(su, Mapping)
        )
        latency = u.get("latency_s")
        shown = f"{float(latency):11.2f}" if isinstance(latency, int | float) else f"{'-':>11}"
        print(f"  {agent:<18}{p:>8}{c:>8}{u.get('calls', '-')!s:>7}{shown}  {staged}")
    print(f"  {'total':<18}{total_p:>8}{total_c:>8}")


def bench_demo(model_override: str | None) -> None:
    from moot.events import Event, EventBus
    from moot.workspace.runner import WorkspaceRunner
    from moot.state import merge_usage

    started = time.perf_counter()
    runtime = WorkspaceRunner.load("demo", model_override=model_override)
    loaded = time.perf_counter()
    bus = EventBus()
    seen: dict[str, Any] = {}  # usage from state patches, so a failed run still shows its spend
    counts: dict[str, int] = {}

    def watch(event: Event) -> None:
        counts[event.type] = counts.get(event.type, 0) + 1
        update = event.data.get("update") if event.type == "state_patch" else None
        if isinstance(update, Mapping) and isinstance(update.get("usage"), Mapping):
            seen.update(merge_usage(seen, update["usage"]))

    bus.add_handler(watch)

    async def deliberate() -> Any:
        # as `moot run` does: a store in a scratch MOOT_HOME, the travel MCP server connected
        with tempfile.TemporaryDirectory() as home:
            os.environ["MOOT_HOME"] = home
            async with runtime.open_store_and_tools() as (saver, index):
                return await runtime.orchestrator(saver, index=index, bus=bus).run(TASK)

    models = {name: getattr(m, "model_name", type(m).__name__) for name, m in runtime.models.items()}
    print(f"\ndemo deliberation      {TASK!r} on {models}")
    print(f"runtime load           {loaded - started:.2f} s")
    run_started = time.perf_counter()
    try:
        result = asyncio.run(deliberate())
    except Exception as exc:  # a weak model may fail after repair: report it, do not hide it
        wall = time.perf_counter() - run_started
        print(f"wall                   {wall:.2f} s (load average {os.getloadavg()[0]:.2f})")
        print(f"status                 failed: {type(exc).__name__}: {exc}")
        print(f"events                 {counts}")
        print("tokens per agent (from state patches before the failure):")
        per_agent(seen)
        return
    wall = time.perf_counter() - run_started
    print(f"wall                   {wall:.2f} s (load average {os.getloadavg()[0]:.2f})")
    print(f"status                 {result.status}; winner {result.winner!r}")
    decision = result.decision
    if decision:
        print(f"decision               {str(decision)[:300]}")
    print(f"events                 {counts}")
    print("tokens per agent:")
    per_agent(result.state.get("usage") or {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per measurement (medians)")
    parser.add_argument("--model", default=None, help="model override for the demo run (default: the workspace's)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the measured model (default: llama.cpp's)")
    parser.add_argument("--skip-demo", action="store_true", help="measure the model only")
    args = parser.parse_args()
    bench_model(args.reps, args.threads)
    if not args.skip_demo:
        bench_demo(args.model)


if __name__ == "__main__":
    main()
