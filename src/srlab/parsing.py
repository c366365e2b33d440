"""Reading structured answers out of model text: a result type and JSON found in free text.

Judges and attackers both ask a model for structured output (a verdict, a rating, a JSON
object) and must tell a readable answer from an unreadable one without guessing. Parsers return
:class:`Parsed`: the value, or ``None`` with a reason saying what was wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """A parse result: ``value`` when it worked, else ``None`` and a ``reason``."""

    value: T | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def fail(reason: str) -> Parsed[Any]:
    return Parsed(None, reason)


def excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --- JSON inside free text ---------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _balanced_objects(text: str) -> list[str]:
    """Every top-level ``{...}`` span, found by brace counting that skips string literals."""
    spans: list[str] = []
    depth = 0
    start = -1
    in_string = False
    escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"' and depth > 0:
            in_string = True
        elif char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : index + 1])
    return spans


def _loads_lenient(candidate: str) -> Any:
    """``json.loads``, then once more after fixing the slips models make most (trailing commas,
    Python literals, smart quotes)."""
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        pass
    fixed = candidate.replace("\u201c", '"').replace("\u201d", '"')
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
    fixed = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", re.sub(r"\bNone\b", "null", fixed)))
    return json.loads(fixed)


def extract_json_object(text: str) -> Parsed[dict[str, Any]]:
    """The first JSON object in ``text``: inside a ``` fence first, else anywhere in the text."""
    if not text or not text.strip():
        return fail("empty judge output")
    candidates: list[str] = []
    for block in _FENCE.findall(text):
        candidates.extend(_balanced_objects(block))
    candidates.extend(_balanced_objects(text))
    if not candidates:
        return fail(f"no JSON object in output: {excerpt(text)!r}")
    last_error = ""
    for candidate in candidates:
        try:
            value = _loads_lenient(candidate)
        except json.JSONDecodeError as exc:
            last_error = exc.msg
            continue
        if isinstance(value, dict):
            return Parsed(value)
    return fail(f"malformed JSON object ({last_error or 'not an object'}): {excerpt(candidates[0])!r}")
