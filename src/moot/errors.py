"""Every error moot raises, grouped by who must act.

```
MootError
├── ConfigError                 the workspace author must fix a file
│   ├── WorkspaceError          unknown workspace, invalid YAML (file and line)
│   ├── PolicyConfigError       invalid write policy, two LastValue writers in one superstep
│   └── ExpressionError         an exit/transition expression that does not parse
├── UsageError                  the caller passed bad input (empty task, unknown run id)
│   └── SettingsError           a `MOOT_*` environment variable holds a value moot cannot use
├── RunError                    a run failed at run time
│   ├── PolicyViolation         an agent wrote a key it may not write
│   ├── AgentOutputError        the model's answer did not validate after bounded repair
│   ├── TokenBudgetExceeded     the run's token budget is spent
│   ├── RunTimeout              the run took longer than its time limit (the service's)
│   └── ModelError              the chat model could not answer
│       └── ModelNotInstalledError  the embedded model's files are missing (also a ConfigError)
└── (tool errors arrive with the MCP issue)
```

Messages always name the place (file and line, key, agent, stage) and, where there is one,
the fix.
"""

from __future__ import annotations

from collections.abc import Iterable


class MootError(Exception):
    """Root of every error moot raises on purpose."""


class ConfigError(MootError):
    """A workspace file is wrong: the workspace author must act."""


class WorkspaceError(ConfigError):
    """A workspace cannot be found or one of its files is invalid.

    `path` and `line` point at the offending place when known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class PolicyConfigError(ConfigError):
    """The write policy is invalid or the graph would let two writers race on a LastValue key.

    `loc` is the path of the offending value in the policy file (e.g. `("writers", "winner", 1)`),
    so the loader can name its line.
    """

    def __init__(self, message: str, *, loc: tuple[object, ...] = ()) -> None:
        self.loc = loc
        super().__init__(message)


class ExpressionError(ConfigError):
    """An exit rule or transition expression does not parse or uses something not allowed."""

    def __init__(self, expression: str, reason: str, *, where: str | None = None) -> None:
        self.expression = expression
        self.reason = reason
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}invalid expression {expression!r}: {reason}")


class UsageError(MootError):
    """The caller gave bad input (empty task, unknown run id, unreadable file)."""


class SettingsError(UsageError):
    """A `MOOT_*` variable (moot.settings) is malformed: whoever set the environment must act.
    The message names the variable, what it takes and what it held."""


class RunError(MootError):
    """A run failed while executing."""


class PolicyViolation(RunError):
    """An agent tried to write a state key that the write policy does not allow it to write.

    The whole update is refused: nothing of it reaches the channels.
    """

    def __init__(
        self, agent: str, key: str, allowed: Iterable[str], *, stage: str | None = None, undeclared: bool = False
    ) -> None:
        self.agent = agent
        self.key = key
        self.allowed = tuple(sorted(allowed))
        self.stage = stage
        self.undeclared = undeclared
        writers = ", ".join(self.allowed) or "nobody"
        at = f" in stage {stage!r}" if stage else ""
        fix = (
            f"Declare {key!r} in the agent's 'writes' if this write is intended."
            if undeclared
            else f"Add {agent!r} to the writers of {key!r} in the workspace policy if this write is intended."
        )
        why = " (it is not among the keys the agent declares in 'writes')" if undeclared else ""
        super().__init__(
            f"agent {agent!r}{at} may not write {key!r}{why}; allowed writers: {writers}. "
            f"The whole update was refused. {fix}"
        )


class AgentOutputError(RunError):
    """The model's answer did not validate against the agent's output schema after repair."""

    def __init__(self, agent: str, schema: str, attempts: int, last_error: str) -> None:
        self.agent = agent
        self.schema = schema
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(
            f"agent {agent!r}: the model's answer did not match {schema} after {attempts} "
            f"attempt(s); last error: {last_error}"
        )


class TokenBudgetExceeded(RunError):
    """The run used up its token budget (`limits.token_budget`); it stopped before the next agent."""

    def __init__(self, used: int, budget: int, *, agent: str, stage: str) -> None:
        self.used = used
        self.budget = budget
        super().__init__(
            f"token budget exhausted: the run used {used} of {budget} tokens before agent {agent!r} "
            f"in stage {stage!r}; nothing more was sent to a model. Raise limits.token_budget in "
            f"moot.yaml and `moot resume` the run to go on."
        )


class RunTimeout(RunError):
    """The run took longer than its time limit; it stopped, and its checkpoints let it resume."""

    def __init__(self, seconds: float, setting: str) -> None:
        self.seconds = seconds
        self.setting = setting
        super().__init__(f"the run took longer than {seconds:g} s ({setting})")


class ModelError(RunError):
    """The chat model could not produce an answer (unreachable, failed, timed out)."""


class ModelNotInstalledError(ModelError, ConfigError):
    """The embedded model's weights are not installed; the message says the command that installs them.

    Also a `ConfigError`: the operator must act before anything can run (the CLI exits 2).
    """


__all__ = [
    "AgentOutputError",
    "ConfigError",
    "ExpressionError",
    "ModelError",
    "ModelNotInstalledError",
    "MootError",
    "PolicyConfigError",
    "PolicyViolation",
    "RunError",
    "TokenBudgetExceeded",
    "UsageError",
    "WorkspaceError",
]
