"""Turn a provider's exception into one line that names the endpoint and the fix.

The SDKs raise their own exception trees (openai's and anthropic's `APIConnectionError`,
`AuthenticationError`, ...; LangChain's `ModelTimeoutError`, ...; Ollama's `ResponseError`;
httpx's `ConnectError`). They are recognised here by class name along the exception's MRO and by
`status_code`, so this module imports no SDK and works whichever extras are installed:

```
kind          class names (any SDK)                                status
unreachable   APIConnectionError, ModelConnectionError, ConnectError, ConnectionError
timeout       APITimeoutError, ModelTimeoutError, TimeoutException, TimeoutError
auth          AuthenticationError, ModelAuthenticationError        401
forbidden     PermissionDeniedError, ModelPermissionDeniedError    403
not_found     NotFoundError, ModelNotFoundError                    404
rate_limit    RateLimitError, ModelRateLimitError                  429
server        InternalServerError, ModelAPIError, OverloadedError  5xx
rejected      BadRequestError, UnprocessableEntityError, ...       400, 422
context       ContextOverflowError
```

Anything else keeps the generic wording `the chat model failed: <class>: <message>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_KINDS: dict[str, str] = {
    "APITimeoutError": "timeout",
    "ModelTimeoutError": "timeout",
    "TimeoutException": "timeout",
    "ReadTimeout": "timeout",
    "ConnectTimeout": "timeout",
    "TimeoutError": "timeout",
    "ContextOverflowError": "context",
    "APIConnectionError": "unreachable",
    "ModelConnectionError": "unreachable",
    "ConnectError": "unreachable",
    "ConnectionError": "unreachable",
    "AuthenticationError": "auth",
    "ModelAuthenticationError": "auth",
    "PermissionDeniedError": "forbidden",
    "ModelPermissionDeniedError": "forbidden",
    "NotFoundError": "not_found",
    "ModelNotFoundError": "not_found",
    "RateLimitError": "rate_limit",
    "ModelRateLimitError": "rate_limit",
    "InternalServerError": "server",
    "OverloadedError": "server",
    "ServiceUnavailableError": "server",
    "ModelAPIError": "server",
    "BadRequestError": "rejected",
    "UnprocessableEntityError": "rejected",
    "ModelInvalidRequestError": "rejected",
}

_BY_STATUS = {401: "auth", 403: "forbidden", 404: "not_found", 429: "rate_limit"}
_PRIORITY = ("timeout", "context", "auth", "forbidden", "not_found", "rate_limit", "server", "unreachable", "rejected")
"""When a class has several kinds in its MRO (LangChain's `OpenAITimeoutError` is also an
`APIConnectionError`; its context overflow is also a `BadRequestError`), the more specific wins."""


@dataclass(frozen=True)
class ModelInfo:
    """Who answered (or did not): read from the `moot_*` metadata the factory sets, else guessed."""

    provider: str
    model: str
    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    api_key_env: str | None = None
    entry: str | None = None

    @property
    def label(self) -> str:
        at = f" at {self.base_url}" if self.base_url else ""
        return f"{self.provider} model {self.model!r}{at}"


def model_info(model: Any) -> ModelInfo:
    """Provider, model name and endpoint of a chat model (any `BaseChatModel`)."""
    meta = getattr(model, "metadata", None) or {}
    if "moot_provider" in meta:
        return ModelInfo(
            provider=str(meta["moot_provider"]),
            model=str(meta.get("moot_model")),
            base_url=meta.get("moot_base_url"),
            timeout=meta.get("moot_timeout"),
            max_retries=meta.get("moot_max_retries"),
            api_key_env=meta.get("moot_api_key_env"),
            entry=meta.get("moot_model_entry"),
        )
    name = getattr(model, "model_name", None) or getattr(model, "model", None) or type(model).__name__
    url = getattr(model, "openai_api_base", None) or getattr(model, "anthropic_api_url", None) or getattr(model, "base_url", None)
    return ModelInfo(provider=getattr(model, "_llm_type", type(model).__name__), model=str(name), base_url=url)


def kind_of(exc: BaseException) -> str | None:
    """The failure kind of `exc` (see the table above), or None when it is not a provider error."""
    kinds = {_KINDS[cls.__name__] for cls in type(exc).__mro__ if cls.__name__ in _KINDS}
    if kinds:
        return next(k for k in _PRIORITY if k in kinds)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return _BY_STATUS.get(status) or ("server" if status >= 500 else "rejected" if status >= 400 else None)
    cause = exc.__cause__  # an SDK wrapper raised `from` the transport's error
    return kind_of(cause) if cause is not None and cause is not exc else None


_SDK_PREFIX = re.compile(r"^Error code: \d+ - ")


def _detail(exc: BaseException, limit: int = 200) -> str:
    """The server's own words, on one line, prefixed with the HTTP status when there is one."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    text = _SDK_PREFIX.sub("", text).rstrip(".") or type(exc).__name__
    text = text[:limit] + ("…" if len(text) > limit else "")
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}: {text}" if isinstance(status, int) else text


def _seconds(value: float) -> str:
    return f"{value:g} s"


_OVERRIDE_VARS = {"base_url": "MOOT_BASE_URL", "timeout": "MOOT_TIMEOUT", "max_retries": "MOOT_MAX_RETRIES", "model": "MOOT_MODEL"}


def _fix(info: ModelInfo, key: str) -> str:
    """Where `key` is set: the workspace's entry, or the variable when `MOOT_MODEL` made the model."""
    if info.entry and info.entry.startswith("MOOT_MODEL="):
        return f"${_OVERRIDE_VARS[key]}"
    return f"{key} in model entry {info.entry!r}" if info.entry else f"the model's {key}"


def describe(exc: BaseException, model: Any) -> str:
    """One line saying what failed, where (provider, model, base URL) and what to do about it."""
    kind = kind_of(exc)
    if kind is None:
        return f"the chat model failed: {type(exc).__name__}: {exc}"
    info = model_info(model)
    tries = ""
    retried = ("unreachable",) if info.provider == "ollama" else ("unreachable", "timeout", "rate_limit", "server")
    if info.max_retries is not None and kind in retried:
        n = 1 + int(info.max_retries)
        tries = f" ({n} attempt{'s' if n > 1 else ''})"
    detail = _detail(exc)
    if kind == "unreachable":
        return f"{info.label} is unreachable{tries}: {detail}. Start the server, or fix {_fix(info, 'base_url')}"
    if kind == "timeout":
        after = f" after {_seconds(info.timeout)}" if info.timeout else ""
        return f"{info.label} timed out{after}{tries}. Raise {_fix(info, 'timeout')}, or use a smaller model or a less loaded server"
    if kind == "auth":
        key = f"${info.api_key_env}" if info.api_key_env else "the API key"
        return f"{info.label} refused the API key ({detail}). Set {key} to a valid key"
    if kind == "forbidden":
        return f"{info.label}: the API key may not use this model ({detail}). Use a key with access to it, or another model"
    if kind == "not_found":
        fix = {
            "openai": f"Fix {_fix(info, 'model')}, or {_fix(info, 'base_url')} (it usually ends in /v1); "
            f"GET {info.base_url}/models lists the server's models",
            "ollama": f"Run `ollama pull {info.model}`, or fix {_fix(info, 'model')}",
        }.get(info.provider, f"Fix {_fix(info, 'model')}")
        return f"{info.label}: the server knows no such model or path ({detail}). {fix}"
    if kind == "rate_limit":
        return f"{info.label} is still rate-limited{tries} ({detail}). Wait and retry, lower the load, or raise {_fix(info, 'max_retries')}"
    if kind == "server":
        return f"{info.label} kept failing{tries} ({detail}). Check the server and its logs, or retry later"
    if kind == "context":
        return f"{info.label}: the prompt does not fit the model's context window ({detail}). Shorten the task or use a larger-context model"
    return (
        f"{info.label} rejected the request ({detail}). Check that the server supports JSON-schema "
        f"response_format and tool calls"
    )


__all__ = ["ModelInfo", "describe", "kind_of", "model_info"]
