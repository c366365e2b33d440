"""Parsers for attacker and PAIR-judge outputs: ratings, attacker JSON turns and rewrites.

Pure functions on raw model text, pinned on fixed strings in tests; a reply that cannot be read
is a failed turn (counted), never a guessed prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from srlab.parsing import Parsed, excerpt, extract_json_object, fail

# --- PAIR ------------------------------------------------------------------------------------


def parse_pair_rating(text: str) -> Parsed[int]:
    """PAIR's judge answers ``Rating: [[N]]`` with N in 1-10; the first ``[[N]]`` counts."""
    match = re.search(r"\[\[\s*(-?\d+(?:\.\d+)?)\s*\]\]", text)
    if match is None:
        return fail("empty judge output" if not text.strip() else f"no 'Rating: [[N]]' in output: {excerpt(text)!r}")
    number = float(match.group(1))
    if not number.is_integer() or not 1 <= number <= 10:
        return fail(f"rating must be an integer 1-10, got {match.group(1)}")
    return Parsed(int(number))


@dataclass(frozen=True)
class AttackerTurn:
    improvement: str
    prompt: str


def parse_pair_attacker(text: str) -> Parsed[AttackerTurn]:
    """The attacker's JSON ``{"improvement": ..., "prompt": ...}``; the prompt must be non-empty."""
    found = extract_json_object(text)
    if found.value is None:
        return fail(found.reason or "no JSON object")
    prompt = found.value.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return fail("attacker JSON has no non-empty 'prompt' string")
    improvement = found.value.get("improvement", "")
    return Parsed(AttackerTurn(improvement=str(improvement or ""), prompt=prompt.strip()))


# --- attacker rewrites (past tense, persuasive paraphrase) -----------------------------------

_REWRITE_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:reformulated|rewritten|paraphrased|modified|persuasive|new|past[- ]tense)?\s*"
    r"(?:request|inquiry|question|prompt|version|paraphrase)(?:\*\*)?\s*:\s*",
    re.IGNORECASE,
)
# A chatty first line ("Sure, here it is:") followed by the rewrite on later lines.
_PREAMBLE = re.compile(r"^\s*(?:sure|okay|ok|certainly|of course|here)\b[^\n]*\n(?=\s*\S)", re.IGNORECASE)


def parse_rewrite(text: str, original: str = "") -> Parsed[str]:
    """The rewritten request from an attacker's reply.

    Drops a chatty first line ("Sure, here it is:"), a label ("Reformulated request:") and
    wrapping quotes. A reply that is empty, or only repeats the original, is a failed rewrite.
    """
    body = text.strip()
    body = _PREAMBLE.sub("", body, count=1).strip()
    labelled = [line for line in body.splitlines() if _REWRITE_LABEL.match(line)]
    if labelled:  # keep what follows the label, up to the next blank line
        after = body[body.index(labelled[0]) :]
        after = _REWRITE_LABEL.sub("", after, count=1)
        body = after.split("\n\n")[0]
    body = body.strip().strip("*").strip()
    if len(body) >= 2 and body[0] in "\"'\u201c" and body[-1] in "\"'\u201d":
        body = body[1:-1].strip()
    if not body:
        return fail("empty rewrite")
    if original and " ".join(body.lower().split()) == " ".join(original.lower().split()):
        return fail("rewrite repeats the original request")
    return Parsed(body)
