"""``gsm8k-answer``: extract the final number from a response and compare it with the reference."""

from __future__ import annotations

import re
from fractions import Fraction

from srlab.errors import UnknownNameError
from srlab.judge.base import Judge
from srlab.schema import Generation, Sample, Verdict

# A number as models write it: optional sign or currency, thousands separators, decimals, and
# (only when the reference is a fraction) a simple a/b. The sign must not follow a digit or a
# letter, so "3-4" and "COVID-19" do not yield negatives.
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_NUMBER = rf"(?<![\w.])(?P<sign>[-−–]\s?)?\$?\s?(?P<num>{_INT}(?:\.\d+)?|\.\d+)"
_FRACTION = rf"(?<![\w.])(?P<sign>[-−–]\s?)?(?P<num>{_INT}\s?/\s?{_INT})(?![\d/])"
_NUMBER_RE = re.compile(_NUMBER)
_FRACTION_RE = re.compile(_FRACTION)

# Final-answer markers in order of preference; each captures the text the number is read from.
_HASHES_RE = re.compile(r"####\s*([^\n]*)")
_BOXED_RE = re.compile(r"\\boxed\s*\{")
_ANSWER_IS_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|would\s+be|will\s+be|=|:)\s*:?\s*([^\n]{0,80})",
    re.IGNORECASE,
)
_A_COLON_RE = re.compile(r"(?:^|\n)\s*A\s*:\s*([^\n]*)")
_LATEX_FRAC_RE = re.compile(r"\\d?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def _boxed_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}``, matching nested braces (``\\boxed{\\frac{3}{4}}``)."""
    found = []
    for match in _BOXED_RE.finditer(text):
        depth, start = 1, match.end()
        for index in range(start, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[start:index])
                    break
    return found


def _clean(text: str) -> str:
    """Drop markup that splits or hides numbers: LaTeX fractions, \\text, \\$, bold, thin spaces."""
    text = _LATEX_FRAC_RE.sub(r"\1/\2", text)
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    text = text.replace("\\$", "$").replace("\\!", "").replace("\\,", "").replace("**", "")
    return text.replace("\u202f", "").replace("\u00a0", " ")


def _to_fraction(match: re.Match[str]) -> Fraction:
    sign = -1 if match.group("sign") else 1
    digits = match.group("num").replace(",", "").replace(" ", "")
    return sign * Fraction(digits)


def _numbers(text: str, allow_fractions: bool) -> list[tuple[int, Fraction]]:
    """Every number in ``text`` as ``(position, value)``, in order of appearance."""
    text = _clean(text)
    found: list[tuple[int, int, Fraction]] = []
    taken: list[tuple[int, int]] = []
    if allow_fractions:
        for match in _FRACTION_RE.finditer(text):
            denominator = Fraction(match.group("num").split("/")[1].replace(",", "").strip())
            if denominator != 0:
                found.append((match.start(), match.end(), _to_fraction(match)))
                taken.append((match.start(), match.end()))
    for match in _NUMBER_RE.finditer(text):
        if any(start <= match.start() < end for start, end in taken):
            continue
        found.append((match.start(), match.end(), _to_fraction(match)))
    return [(start, value) for start, _, value in sorted(found)]


def _first_number(text: str, allow_fractions: bool) -> Fraction | None:
    numbers = _numbers(text, allow_fractions)
    return numbers[0][1] if numbers else None


def extract_final_number(text: str, *, allow_fractions: bool = False) -> tuple[Fraction, str] | None:
    """The response's final number and the marker it came from, or None when there is none.

    Preference: ``#### N``, the last ``\\boxed{N}``, the last "the answer is N" / "answer: N",
    the last "A: N" line, then the last number anywhere.
    """
    for segment in reversed(_HASHES_RE.findall(text)):
        value = _first_number(segment, allow_fractions)
        if value is not None:
            return value, "####"
    for segment in reversed(_boxed_contents(text)):
        value = _first_number(segment, allow_fractions)
        if value is not None:
            return value, "boxed"
    for segment in reversed(_ANSWER_IS_RE.findall(text)):
        value = _first_number(segment, allow_fractions)
        if value is not None:
            return value, "answer-is"
    for segment in reversed(_A_COLON_RE.findall(text)):
        value = _first_number(segment, allow_fractions)
        if value is not None:
            return value, "A:"
    numbers = _numbers(text, allow_fractions)
    if numbers:
        return numbers[-1][1], "last-number"
    return None


def format_number(value: Fraction) -> str:
    """``Fraction(18)`` -> ``"18"``, ``Fraction(37, 2)`` -> ``"18.5"``, ``Fraction(1, 3)`` -> ``"1/3"``."""
    if value.denominator == 1:
        return str(value.numerator)
    # Terminating decimals print as decimals; others (1/3) keep the exact fraction.
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        return f"{float(value):.10f}".rstrip("0").rstrip(".")
    return f"{value.numerator}/{value.denominator}"


def parse_reference(reference: str) -> Fraction | None:
    """The number in a GSM8K reference: after ``####`` if present, else the first number."""
    allow_fractions = "/" in reference
    hashes = _HASHES_RE.findall(reference)
    text = hashes[-1] if hashes else reference
    return _first_number(text, allow_fractions)


# lm-evaluation-harness's gsm8k task, for numbers comparable with its tables: "strict-match"
# takes the first "#### N" of the whole response, and both sides are compared as strings after
# its regexes_to_ignore.
LM_EVAL_STRICT_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
LM_EVAL_IGNORE = (",", r"\$", r"(?s).*#### ", r"\.$")
EXTRACTORS = ("srlab", "strict-match")


def lm_eval_normalise(text: str) -> str:
    for pattern in LM_EVAL_IGNORE:
        text = re.sub(pattern, "", text)
    return text.lower()


class GSM8KAnswerJudge(Judge):
    """True when the response's final number equals the reference number (exactly, as rationals).

    ``extractor="srlab"`` (default) reads the final answer the way a grader would: "The answer
    is N", "#### N", \\boxed{N}, else the last number of the answer. ``extractor="strict-match"``
    is lm-evaluation-harness's rule (first "#### N" in the response, string comparison), for
    numbers that sit beside its tables.
    """

    name = "gsm8k-answer"
    label_meaning = "correct"
    version = "1"
    target = "answer"

    def __init__(self, extractor: str = "srlab") -> None:
        if extractor not in EXTRACTORS:
            raise UnknownNameError("gsm8k-answer extractor", extractor, EXTRACTORS)
        self.extractor = extractor
        self.params = {"extractor": extractor}

    def judge(self, sample: Sample, generation: Generation) -> Verdict:
        if self.extractor == "strict-match":
            return self._strict_match(sample, generation)
        if sample.reference is None or not str(sample.reference).strip():
            return self._undecided("missing reference")
        reference = parse_reference(str(sample.reference))
        if reference is None:
            return self._undecided(f"reference {sample.reference!r} holds no number")
        answer = generation.answer.strip()
        if not answer:
            if generation.truncated:
                return self._undecided("truncated before answer")
            answer = generation.text.strip()
        allow_fractions = "/" in str(sample.reference)
        found = extract_final_number(answer, allow_fractions=allow_fractions)
        if found is None:
            return self._undecided("no number in answer")
        value, marker = found
        if generation.truncated and marker == "last-number":
            # A cut-off answer's last number is usually an intermediate step, not a final answer.
            return self._undecided("truncated before answer")
        details = {"extracted": format_number(value), "marker": marker, "reference": format_number(reference)}
        return Verdict(judge=self.name, label=value == reference, target="answer", details=details)

    def _strict_match(self, sample: Sample, generation: Generation) -> Verdict:
        if sample.reference is None:
            return self._undecided("missing reference")
        found = LM_EVAL_STRICT_RE.search(generation.text)
        if found is None:
            return self._undecided("no '#### N' in the response (strict-match)")
        extracted = found.group(1)
        label = lm_eval_normalise(extracted) == lm_eval_normalise(str(sample.reference))
        return Verdict(judge=self.name, label=label, target="answer",
                       details={"extracted": extracted, "marker": "strict-match"})

    def _undecided(self, reason: str) -> Verdict:
        return Verdict(judge=self.name, label=None, reason=reason, target="answer", details={"extracted": None})
