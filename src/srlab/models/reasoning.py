"""Split raw model output into reasoning trace and answer."""

from __future__ import annotations

import re

from srlab.schema import Generation

# Reasoning models use different tags; <think> is the common one (DeepSeek-R1, Qwen3, QwQ).
_OPEN_TAGS = ("think", "thinking", "reasoning", "thought")
_OPEN_RE = re.compile(r"<(" + "|".join(_OPEN_TAGS) + r")>", re.IGNORECASE)


def split_reasoning(text: str) -> tuple[str | None, str, bool]:
    """Return ``(reasoning, answer, unclosed)``.

    ``unclosed`` is True when a think block opens and never closes: the model ran out of tokens
    while still reasoning, so there is no answer. A closing tag with no opening one (templates
    that put ``<think>`` in the prompt, as DeepSeek-R1's does) counts everything before it as
    reasoning.
    """
    match = _OPEN_RE.search(text)
    if match:
        tag = match.group(1)
        close = re.search(rf"</{tag}>", text[match.end():], re.IGNORECASE)
        if close is None:
            return text[match.end():].strip(), "", True
        reasoning = text[match.end(): match.end() + close.start()].strip()
        # Text on both sides of the block belongs to the answer; joined, not glued ("Hi.The answer").
        before, after = text[: match.start()].strip(), text[match.end() + close.end():].strip()
        answer = "\n\n".join(part for part in (before, after) if part)
        return reasoning, answer, False
    for tag in _OPEN_TAGS:
        close = re.search(rf"</{tag}>", text, re.IGNORECASE)
        if close:
            return text[: close.start()].strip(), text[close.end():].strip(), False
    return None, text.strip(), False


def make_generation(
    text: str,
    *,
    reasoning_field: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    hit_token_limit: bool = False,
    finish_reason: str | None = None,
) -> Generation:
    """Build a Generation from raw text; a backend's separate reasoning field wins over tags."""
    if reasoning_field:
        reasoning, answer, unclosed = reasoning_field.strip(), text.strip(), False
    else:
        reasoning, answer, unclosed = split_reasoning(text)
    # A separate reasoning field is folded back into the text, so "full" judges see the trace too.
    full = f"<think>\n{reasoning}\n</think>\n\n{answer}" if reasoning_field else text
    return Generation(
        text=full,
        answer=answer,
        reasoning=reasoning,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        truncated=bool(hit_token_limit or unclosed),
        finish_reason=finish_reason,
    )


def join_prefill(prompt: str, prefill: str) -> str:
    """A rendered chat prompt followed by an assistant prefill the reply continues.

    A template whose generation prompt already opens the trace (DeepSeek-R1's ends in
    ``<think>\\n``) gets no second ``<think>`` from a prefill that starts with one.
    """
    if prefill.startswith("<think>") and prompt.rstrip().endswith("<think>"):
        return f"{prompt.rstrip()}\n{prefill[len('<think>'):].lstrip(chr(10))}"
    return prompt + prefill


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str | None:
    """``text`` before the earliest stop string, or None when none occurs."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[: min(hits)] if hits else None
