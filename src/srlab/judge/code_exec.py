"""``code-exec``: run the model's code against the sample's tests in a sandbox (pass@1).

Two kinds of sample: HumanEval's (``meta`` has ``test`` and ``entry_point``): true iff the
program (function prompt + the model's code + the tests + ``check(entry_point)``) exits 0 within
the limits; and input/output cases (``meta["cases"]``, LiveCodeBench's, see ``io_cases``): true
iff the last code block passes every case, all in one sandboxed run within the limits. A crash, a failed assertion, a timeout or a sandbox kill is False
with the reason in ``details``; undecided only when there is no answer to run or no test.
"""

from __future__ import annotations

import re

from srlab.judge.base import Judge
from srlab.judge.io_cases import CaseFormatError, decode_cases, run_cases
from srlab.judge.sandbox import SandboxLimits, SandboxResult, run_python
from srlab.schema import Generation, Sample, Verdict

_FENCE_RE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<code>.*?)(?:```|\Z)", re.DOTALL)
_OUTPUT_CHARS = 1000


def code_blocks(answer: str) -> list[str]:
    """The fenced python (or untagged) blocks of an answer, in order."""
    return [
        m.group("code") for m in _FENCE_RE.finditer(answer) if m.group("lang").lower() in ("", "python", "py", "python3")
    ]


def extract_code(answer: str, entry_point: str | None = None) -> str:
    """The code in an answer: the first fenced python block that defines ``entry_point``, else
    the first python (or untagged) block, else the raw text."""
    blocks = code_blocks(answer)
    if entry_point:
        defining = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.MULTILINE)
        for block in blocks:
            if defining.search(block):
                return block
    return blocks[0] if blocks else answer


def defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def build_program(code_prompt: str, code: str, test: str, entry_point: str) -> str:
    """The prompt (its imports and helpers) then the model's code, then the tests.

    A model that rewrote the whole function redefines it after the prompt's stub; a completion
    of the body alone continues the prompt's function.
    """
    body = code_prompt + ("\n\n" if defines(code, entry_point) else "") + code
    return f"{body}\n\n{test}\n\ncheck({entry_point})\n"


class CodeExecJudge(Judge):
    """True when the answer's code passes the sample's tests, run in ``srlab.judge.sandbox``."""

    name = "code-exec"
    label_meaning = "correct"
    version = "1"
    target = "answer"

    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 1024) -> None:
        self.limits = SandboxLimits(timeout_s=float(timeout_s), memory_mb=int(memory_mb))
        self.params = {"timeout_s": float(timeout_s), "memory_mb": int(memory_mb)}

    def judge(self, sample: Sample, generation: Generation) -> Verdict:
        test, entry_point = sample.meta.get("test"), sample.meta.get("entry_point")
        has_cases = "cases" in sample.meta
        if not has_cases and (not test or not entry_point):
            return self._undecided("sample has no test code or entry point")
        # Not stripped: a completion of the function body needs its leading indentation.
        answer = generation.answer
        if not answer.strip():
            if generation.truncated:
                return self._undecided("truncated before answer")
            answer = generation.text
        if not answer.strip():
            return self._undecided("empty response")
        if has_cases:
            return self._judge_cases(sample, answer)
        code = extract_code(answer, entry_point)
        program = build_program(sample.meta.get("code_prompt", ""), code, test, entry_point)
        result = run_python(program, self.limits)
        details = {**_run_details(result), "rewrote_function": defines(code, entry_point)}
        return Verdict(judge=self.name, label=result.passed, target="answer", details=details)

    def _judge_cases(self, sample: Sample, answer: str) -> Verdict:
        # LiveCodeBench grades the last fenced block: reasoning models put the final code last.
        blocks = code_blocks(answer)
        code = blocks[-1] if blocks else answer
        try:
            cases = decode_cases(sample.meta["cases"]) + decode_cases(sample.meta.get("private_cases") or [])
        except CaseFormatError as exc:
            return self._undecided(f"bad test cases: {exc}")
        if not cases:
            return self._undecided("sample has no test cases")
        passed, result = run_cases(code, cases, sample.meta.get("func_name"), self.limits)
        details = {
            **_run_details(result),
            "status": "passed" if passed else ("failed" if result.passed else result.status),
            "reason": result.reason if result.passed == passed else "stopped before its last test case",
            "cases": len(cases),
        }
        return Verdict(judge=self.name, label=passed, target="answer", details=details)

    def _undecided(self, reason: str) -> Verdict:
        return Verdict(judge=self.name, label=None, reason=reason, target="answer")


def _run_details(result: SandboxResult) -> dict[str, object]:
    """What a verdict records of a sandboxed run: its outcome, the end of stderr, the isolation."""
    return {
        "status": result.status,
        "reason": result.reason,
        "returncode": result.returncode,
        "wall_s": result.wall_s,
        "stderr": result.stderr[-_OUTPUT_CHARS:],
        "isolation": result.isolation,
    }
