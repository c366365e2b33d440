"""Think budgets: no-think, short-think (budget forcing), extended thinking, as rounds of prefills.

A reasoning model writes ``<think> trace </think> answer``. Each budget is driven here once, for
every backend, from one small capability: continue an assistant ``prefill`` until a ``stop``
string (``GenerationRequest.prefill`` / ``stop`` / ``chat_template_kwargs``, honoured by a
backend's ``complete`` callable):

- ``no-think``: the template's own switch (``enable_thinking=False``) when the backend says the
  template has one, else the answer continues an empty ``<think>\\n\\n</think>\\n\\n``.
- ``short-think`` (budget forcing, Muennighoff et al. 2025, "s1"): round 1 continues ``<think>\\n``
  with ``stop=</think>`` and at most ``budget_tokens`` new tokens; the trace is then closed
  (by the model, or forcibly at the budget) and the answer continues ``<think>trace</think>``.
- ``extended``: as short-think, but each time the model closes its trace (or ends) early,
  ``wait_text`` takes the close's place and the trace goes on, ``extend_times`` times.

``decoding.max_new_tokens`` bounds the whole completion, trace and answer together; a round
never asks for more than what is left, and at least one token is kept for the answer. Greedy
requests stay deterministic: every round is a greedy continuation of a fixed text. A sampled
request reuses its seed each round (each round is a new request to the backend).

The result is one Generation per request, its text ``<think>\\ntrace\\n</think>\\n\\nanswer``, with
``reasoning_tokens`` (the trace's tokens, by the backend's tokenizer where it has one, else the
rounds' completion tokens) and ``completion_tokens`` summed over the rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from srlab.errors import SrlabError
from srlab.models.reasoning import split_reasoning
from srlab.schema import Generation, GenerationRequest, ThinkBudget

OPEN, CLOSE = "<think>", "</think>"
EMPTY_TRACE = f"{OPEN}\n\n{CLOSE}\n\n"

Complete = Callable[[list[GenerationRequest]], list[Generation]]
"""A backend's raw call: one Generation per request, whose ``text`` is what follows the prefill
(cut before a stop string), with its own completion_tokens and finish_reason."""
CountTokens = Callable[[str], int]


def needs_prefill(budget: ThinkBudget | None) -> bool:
    """Whether the budget needs a backend that continues an assistant prefill."""
    return budget is not None and budget.mode != "default"


def effective(budget: ThinkBudget | None) -> ThinkBudget | None:
    """``default`` is the model as it is: the same request (and cache key) as no budget at all."""
    return None if budget is None or budget.mode == "default" else budget


def fit_problem(budget: ThinkBudget | None, max_new_tokens: int, where: str = "think") -> str | None:
    """Why a trace budget leaves no room for the answer within ``decoding.max_new_tokens``, or None."""
    if budget is not None and budget.budget_tokens is not None and budget.budget_tokens >= max_new_tokens:
        return (
            f"{where}.budget_tokens ({budget.budget_tokens}) must be below decoding.max_new_tokens "
            f"({max_new_tokens}): the answer comes after the trace, within the same limit"
        )
    return None


def check_fits(budget: ThinkBudget | None, max_new_tokens: int, where: str = "think") -> None:
    problem = fit_problem(budget, max_new_tokens, where)
    if problem:
        raise SrlabError(problem)


@dataclass
class _Think:
    """One request's progress through its rounds."""

    request: GenerationRequest
    budget: ThinkBudget
    trace: str = ""
    used: int = 0  # completion tokens of the rounds so far
    trace_used: int = 0  # of which in the trace
    waits: int = 0
    prompt_tokens: int = 0  # of the first round: the prompt itself, before any prefill
    answering: bool = False
    result: Generation | None = None

    @property
    def limit(self) -> int:
        return self.request.decoding.max_new_tokens

    def next_request(self) -> GenerationRequest:
        base = replace(self.request, think=None)
        if self.answering:
            prefill = f"{OPEN}\n{self.trace.rstrip()}\n{CLOSE}\n\n"
            left = max(1, self.limit - self.used)
            return replace(base, prefill=prefill, decoding=self.request.decoding.model_copy(update={"max_new_tokens": left}))
        room = self.limit - self.used - 1  # one token at least is kept for the answer
        if self.budget.budget_tokens is not None:
            room = min(room, self.budget.budget_tokens - self.trace_used)
        decoding = self.request.decoding.model_copy(update={"max_new_tokens": max(1, room)})
        return replace(base, prefill=f"{OPEN}\n{self.trace}", stop=(CLOSE,), decoding=decoding)

    def take(self, output: Generation) -> None:
        """Fold one round's output in; sets ``result`` when the request is done."""
        if output.error is not None:
            self.result = output
            return
        self.used += output.completion_tokens
        self.prompt_tokens = self.prompt_tokens or output.prompt_tokens
        if self.answering:
            self.result = _assemble(self.trace, output, self.used, self.prompt_tokens)
            return
        self.trace += output.text
        self.trace_used += output.completion_tokens
        capped = self.budget.budget_tokens is not None and self.trace_used >= self.budget.budget_tokens
        out_of_room = self.used >= self.limit - 1
        if output.finish_reason == "length" and not capped and out_of_room:
            # The whole limit went on the trace: no answer, as a plain generation that runs out.
            self.result = _assemble(self.trace, None, self.used, self.prompt_tokens, truncated=True)
            return
        closed_early = output.finish_reason != "length"
        if (
            closed_early and self.budget.mode == "extended" and self.waits < (self.budget.extend_times or 0)
            and not capped and not out_of_room
        ):
            self.trace = f"{self.trace.rstrip()}\n{self.budget.wait_text}"
            self.waits += 1
            return
        self.answering = True  # closed by the model, or forced closed at the budget


def _assemble(
    trace: str, answer: Generation | None, used: int, prompt_tokens: int, *, truncated: bool = False
) -> Generation:
    answer_text = answer.text.strip() if answer is not None else ""
    trace = trace.strip()
    return Generation(
        text=f"{OPEN}\n{trace}\n{CLOSE}\n\n{answer_text}",
        answer=answer_text,
        reasoning=trace,
        prompt_tokens=prompt_tokens,
        completion_tokens=used,
        truncated=truncated or (answer is not None and answer.truncated),
        finish_reason="length" if truncated else (answer.finish_reason if answer is not None else None),
    )


def _no_think(output: Generation) -> Generation:
    """The answer after an empty trace; a trace the model writes anyway is kept (and counted)."""
    if output.error is not None:
        return output
    reasoning, answer, unclosed = split_reasoning(output.text)
    trace = reasoning or ""
    return Generation(
        text=f"{OPEN}\n{trace}\n{CLOSE}\n\n{answer}" if trace else f"{EMPTY_TRACE}{answer}",
        answer=answer,
        reasoning=trace,
        prompt_tokens=output.prompt_tokens,
        completion_tokens=output.completion_tokens,
        truncated=output.truncated or unclosed,
        finish_reason=output.finish_reason,
    )


def run(
    complete: Complete,
    requests: Sequence[GenerationRequest],
    *,
    count_tokens: CountTokens | None = None,
    thinking_off: dict[str, Any] | None = None,
) -> list[Generation]:
    """One Generation per request, in order; each round sends every unfinished request at once.

    ``thinking_off`` is the template switch that turns thinking off (``{"enable_thinking":
    False}``) when the backend's template has one. A request without a think budget is sent as
    it is, in the first round.
    """
    results: list[Generation | None] = [None] * len(requests)
    states: dict[int, _Think] = {}
    first: list[tuple[int, GenerationRequest, str]] = []  # (index, request, kind)
    for index, request in enumerate(requests):
        budget = effective(request.think)
        if budget is None:
            first.append((index, replace(request, think=None), "plain"))
        elif budget.mode == "no-think":
            base = replace(request, think=None)
            if thinking_off:
                first.append((index, replace(base, chat_template_kwargs={**(base.chat_template_kwargs or {}), **thinking_off}), "no-think"))
            else:
                first.append((index, replace(base, prefill=EMPTY_TRACE), "no-think"))
        else:
            check_fits(budget, request.decoding.max_new_tokens)
            states[index] = _Think(request, budget)
    pending = [(index, state.next_request(), "think") for index, state in states.items()]
    batch = first + pending
    while batch:
        outputs = complete([r for _, r, _ in batch])
        if len(outputs) != len(batch):
            raise RuntimeError(f"backend returned {len(outputs)} generations for {len(batch)} requests")
        for (index, _, kind), output in zip(batch, outputs, strict=True):
            if kind == "plain":
                results[index] = output
            elif kind == "no-think":
                results[index] = _no_think(output)
            else:
                states[index].take(output)
                if states[index].result is not None:
                    results[index] = states[index].result
        batch = [(i, s.next_request(), "think") for i, s in states.items() if results[i] is None]
    done = [r for r in results if r is not None]
    assert len(done) == len(requests)
    for index, generation in enumerate(done):
        state = states.get(index)
        count_trace(generation, count_tokens, state.trace_used if state is not None else None)
    return done


def count_trace(generation: Generation, count_tokens: CountTokens | None, fallback: int | None = None) -> None:
    """Set ``reasoning_tokens`` where the generation has a trace: the backend's tokenizer count,
    else ``fallback`` (the rounds' completion tokens of a think budget)."""
    if generation.error is not None or generation.reasoning is None:
        return
    if not generation.reasoning:
        generation.reasoning_tokens = 0
    elif count_tokens is not None:
        generation.reasoning_tokens = count_tokens(generation.reasoning)
    elif fallback is not None:
        generation.reasoning_tokens = fallback


def drive(
    complete: Callable[[list[GenerationRequest], Callable[[int], None] | None], list[Generation]],
    requests: Sequence[GenerationRequest],
    progress: Callable[[int], None] | None,
    *,
    count_tokens: CountTokens | None,
    thinking_off: dict[str, Any] | None,
) -> list[Generation]:
    """A backend's ``generate`` over ``complete(requests, progress)``, its raw batched call.

    Without think budgets this is one raw call (its progress as the backend reports it) plus the
    traces' token counts; with them, the rounds of ``run``, and progress once all are done.
    """
    if all(r.think is None for r in requests):
        return run(lambda batch: complete(batch, progress), requests, count_tokens=count_tokens)
    generations = run(lambda batch: complete(batch, None), requests, count_tokens=count_tokens, thinking_off=thinking_off)
    if progress is not None:
        progress(len(requests))
    return generations


def thinking_switch(chat_template: str | None) -> dict[str, Any] | None:
    """The template argument that turns thinking off, where the template reads one (Qwen3's
    ``enable_thinking``); None means no-think prefills an empty trace instead."""
    return {"enable_thinking": False} if chat_template and "enable_thinking" in chat_template else None
