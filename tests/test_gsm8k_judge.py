"""GSM8KAnswerJudge on a fixed table of answers: extraction, comparison and undecided cases."""

from __future__ import annotations

import pytest

from srlab.judge import get_judge
from srlab.judge.gsm8k_answer import GSM8KAnswerJudge
from srlab.schema import Generation, Sample

# (answer text, reference, expected extracted, expected label)
CASES = [
    ("She has 3 + 15 = 18 apples.\n#### 18", "18", "18", True),
    ("#### 1,234", "1234", "1234", True),
    ("So the total is 20.\n#### 18", "#### 18", "18", True),  # #### beats a later/earlier number
    ("The result is \\boxed{42}.", "42", "42", True),
    ("Thus \\boxed{\\frac{3}{4}} of the cake is left, not 2.", "3/4", "0.75", True),
    ("The answer is $1,250.00.", "1250", "1250", True),
    ("The answer is: **18%**", "18", "18", True),
    ("Final answer: 18.00 dollars", "18", "18", True),
    ("answer: -7", "-7", "-7", True),
    ("The temperature drops to −3 degrees, so the answer is −3.", "-3", "-3", True),
    ("Q: How many?\nA: 42 marbles", "42", "42", True),
    ("First 5 + 6 = 11, then 11 * 2 = 22 cookies.", "22", "22", True),  # last number
    ("He pays 3-4 dollars each, so 17.", "18", "17", False),
    ("The answer is 19.", "Janet sells 16 - 3 - 4 = 9 eggs... #### 18", "19", False),
    ("It took 2.5 hours.", "2.5", "2.5", True),
    ("Each gets 3/4 of a pizza.", "3/4", "0.75", True),
    ("The answer is 1/3 of the pie.", "1/3", "1/3", True),
    ("The answer is 18, then he spent 5 more", "18", "18", True),  # marker wins over last number
]


@pytest.mark.parametrize(("answer", "reference", "extracted", "label"), CASES)
def test_extracts_and_compares(answer: str, reference: str, extracted: str, label: bool) -> None:
    sample = Sample(id="s", prompt="q", benchmark="gsm8k", reference=reference)
    verdict = GSM8KAnswerJudge().judge(sample, Generation(text=answer, answer=answer))
    assert verdict.details["extracted"] == extracted
    assert verdict.label is label
    assert verdict.target == "answer"


def _judge(answer: str, reference: str | None = "18", *, text: str | None = None, truncated: bool = False):
    sample = Sample(id="s", prompt="q", benchmark="gsm8k", reference=reference)
    generation = Generation(text=text if text is not None else answer, answer=answer, truncated=truncated)
    return get_judge("gsm8k-answer").judge(sample, generation)


def test_no_number_is_undecided() -> None:
    verdict = _judge("I am not sure how to solve this.")
    assert verdict.label is None and verdict.reason == "no number in answer"
    assert verdict.details == {"extracted": None}


def test_truncated_without_answer_is_undecided() -> None:
    verdict = _judge("", text="<think>Let me compute 3 + 15 = 18 and then", truncated=True)
    assert verdict.label is None and verdict.reason == "truncated before answer"


def test_truncated_answer_with_only_intermediate_numbers_is_undecided() -> None:
    verdict = _judge("First 3 + 4 = 7, then", truncated=True)
    assert verdict.label is None and verdict.reason == "truncated before answer"


def test_truncated_answer_with_marker_is_judged() -> None:
    verdict = _judge("#### 18\nAlso note that", truncated=True)
    assert verdict.label is True and verdict.details["extracted"] == "18"


def test_empty_answer_falls_back_to_text() -> None:
    verdict = _judge("", text="Working... The answer is 18.")
    assert verdict.label is True and verdict.details["extracted"] == "18"


@pytest.mark.parametrize("reference", [None, "", "   "])
def test_missing_reference_is_undecided(reference: str | None) -> None:
    verdict = _judge("#### 18", reference)
    assert verdict.label is None and verdict.reason == "missing reference"


def test_reference_without_number_is_undecided() -> None:
    verdict = _judge("#### 18", "eighteen")
    assert verdict.label is None and "holds no number" in (verdict.reason or "")


# lm-evaluation-harness's strict-match: the first "#### N" of the whole response, compared as a
# string after its regexes_to_ignore (commas, "$", a trailing "."). (response, reference, label)
STRICT_CASES = [
    ("So 3 + 15 = 18.\n#### 18", "She has 18.\n#### 18", True),
    ("#### 1,234.", "#### 1234", True),  # comma and trailing dot ignored
    ("#### 18\nlater #### 19", "#### 19", False),  # the first one counts
    ("The answer is 18.", "#### 18", None),  # no "#### N": undecided, which accuracy counts as wrong
    ("#### 18.0", "#### 18", False),  # strings, not numbers: lm-eval scores this wrong too
    ("#### $18", "#### 18", None),  # "$" before the number does not match its regex
]


@pytest.mark.parametrize(("response", "reference", "label"), STRICT_CASES)
def test_strict_match_follows_lm_eval(response: str, reference: str, label: bool | None) -> None:
    sample = Sample(id="s", prompt="q", benchmark="gsm8k", reference=reference)
    verdict = GSM8KAnswerJudge(extractor="strict-match").judge(sample, Generation(text=response, answer=response))
    assert verdict.label is label
    default = GSM8KAnswerJudge().judge(sample, Generation(text=response, answer=response))
    if response == "The answer is 18.":
        assert default.label is True  # the default extractor reads "The answer is N" as a grader would


def test_strict_match_is_another_cache_identity() -> None:
    assert GSM8KAnswerJudge().cache_version() != GSM8KAnswerJudge(extractor="strict-match").cache_version()
    with pytest.raises(Exception, match="unknown gsm8k-answer extractor 'loose'"):
        GSM8KAnswerJudge(extractor="loose")
