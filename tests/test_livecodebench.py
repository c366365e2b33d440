"""LiveCodeBench: loading the hub's row format, options, safe test decoding, sandboxed scoring.

``tests/data/livecodebench/test.jsonl`` holds four hand-written problems in the hub's format:
two stdin ones (one with base64+zlib+pickle private tests), a LeetCode-style functional one and
one whose outputs are compared as decimals.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import zlib
from pathlib import Path

import pytest

from srlab.benchmarks import get_benchmark
from srlab.benchmarks.livecodebench import (
    PINNED_REVISION,
    LiveCodeBench,
    parse_options,
    release_files,
)
from srlab.errors import DataFormatError, MissingDataError, SrlabError, UnknownNameError
from srlab.judge.code_exec import CodeExecJudge
from srlab.judge.code_harness import stdout_matches
from srlab.judge.io_cases import CaseFormatError, decode_cases, safe_unpickle
from srlab.report.metrics import pass_at_k, sampled_summaries
from srlab.schema import Generation, Sample

DATA = Path(__file__).parent / "data"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

SUM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
PREFIX = (
    "```python\nimport sys\ndata = sys.stdin.buffer.read().split()\nn = int(data[0])\n"
    "total, out = 0, []\nfor x in data[1:1 + n]:\n    total += int(x)\n    out.append(total)\n"
    "print(' '.join(map(str, out)))\n```"
)
PAIR = (
    "First a sketch:\n```python\nprint('draft')\n```\nFinal:\n```python\nclass Solution:\n"
    "    def maxPairSum(self, nums: List[int]) -> int:\n        a, b = sorted(nums)[-2:]\n"
    "        return a + b\n```"
)
MEAN = (
    "```python\nn = int(input())\nxs = list(map(float, input().split()))\nprint(sum(xs) / n)\n```"
)


def encode(value: object) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(value))).decode()


def samples(**options: str) -> dict[str, Sample]:
    name = "livecodebench" + "".join(f":{k}={v}" for k, v in options.items())
    return {s.id: s for s in get_benchmark(name).load(DATA)}


def judged(sample: Sample, answer: str, timeout_s: float = 10.0) -> tuple[bool | None, dict]:
    verdict = CodeExecJudge(timeout_s=timeout_s, memory_mb=512).judge(
        sample, Generation(text=answer, answer=answer)
    )
    return verdict.label, verdict.details


def test_loads_the_hub_row_format() -> None:
    loaded = samples()
    assert list(loaded) == [
        "livecodebench-abc900_a",
        "livecodebench-abc901_b",
        "livecodebench-3900",
        "livecodebench-2050A",
    ]
    stdin, compressed, functional = (
        loaded["livecodebench-abc900_a"],
        loaded["livecodebench-abc901_b"],
        loaded["livecodebench-3900"],
    )
    assert stdin.category == "easy" and stdin.meta["testtype"] == "stdin"
    assert stdin.meta["n_cases"] == 4 and stdin.meta["func_name"] is None
    assert "Read the inputs from stdin" in stdin.user_text()
    assert stdin.user_text().startswith("You are an expert Python programmer.")
    # The private tests stay compressed in the sample; their count comes from decoding them.
    assert compressed.meta["n_cases"] == 4 and not compressed.meta["private_cases"].startswith("[")
    assert functional.meta == {
        **functional.meta,
        "testtype": "functional",
        "func_name": "maxPairSum",
        "platform": "leetcode",
    }
    assert "class Solution:\n    def maxPairSum" in functional.user_text()
    assert "Read the inputs from stdin" not in functional.user_text()
    assert get_benchmark("livecodebench").kind == "reasoning"
    assert get_benchmark("livecodebench").default_judges == ("code-exec",)


def test_decodes_compressed_private_tests() -> None:
    cases = [{"input": "1\n5\n", "output": "5\n", "testtype": "stdin"}]
    assert decode_cases(encode(json.dumps(cases))) == cases  # LiveCodeBench pickles a JSON string
    assert decode_cases(encode(cases)) == cases  # a pickled list of dicts needs no global either
    row = json.loads((DATA / "livecodebench" / "test.jsonl").read_text().splitlines()[1])
    assert [c["output"] for c in decode_cases(row["private_test_cases"])] == [
        "5\n",
        "1 0 1 0\n",
        "10 30\n",
    ]
    assert decode_cases("") == []
    with pytest.raises(CaseFormatError, match="neither JSON nor base64"):
        decode_cases("not json, not base64!")
    with pytest.raises(CaseFormatError, match="must be a list"):
        decode_cases(encode(json.dumps({"input": "1"})))


class _Exploit:
    """Unpickling this calls os.system: exactly what a crafted hub pickle would do."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/srlab-pwned",))


def test_restricted_unpickler_refuses_globals(tmp_path: Path) -> None:
    malicious = pickle.dumps(_Exploit())
    with pytest.raises(pickle.UnpicklingError, match="refused to load global"):
        safe_unpickle(malicious)
    with pytest.raises(CaseFormatError, match="unsafe or corrupt pickle: refused"):
        decode_cases(base64.b64encode(zlib.compress(malicious)).decode())
    assert safe_unpickle(pickle.dumps({"a": [1, "x", None, 2.5, True]})) == {
        "a": [1, "x", None, 2.5, True]
    }
    # A data file carrying such a pickle fails to load, naming the file, row and question.
    row = json.loads((DATA / "livecodebench" / "test.jsonl").read_text().splitlines()[0])
    row["private_test_cases"] = base64.b64encode(zlib.compress(malicious)).decode()
    (tmp_path / "livecodebench").mkdir()
    (tmp_path / "livecodebench" / "test.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(DataFormatError, match=r"test.jsonl:1: question abc900_a: unsafe"):
        get_benchmark("livecodebench").load(tmp_path)
    assert len(get_benchmark("livecodebench:private=false").load(tmp_path)) == 1


def test_filters_by_date_and_difficulty() -> None:
    assert list(samples(start_date="2024-08-10")) == [
        "livecodebench-abc901_b",
        "livecodebench-3900",
        "livecodebench-2050A",
    ]
    assert list(samples(start_date="2024-07-01", end_date="2024-09-15")) == [
        "livecodebench-abc901_b",
        "livecodebench-3900",
    ]
    assert list(samples(difficulty="easy+hard")) == [
        "livecodebench-abc900_a",
        "livecodebench-2050A",
    ]
    assert samples(private="false")["livecodebench-abc900_a"].meta["n_cases"] == 2
    assert get_benchmark("livecodebench:difficulty=hard").name == "livecodebench:difficulty=hard"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("livecodebench:release=v9", "unknown livecodebench option release 'v9'"),
        ("livecodebench:difficulty=easy+extreme", "livecodebench option difficulty 'extreme'"),
        ("livecodebench:start_date=2024-13-01", "start_date='2024-13-01': expected a date"),
        (
            "livecodebench:start_date=2025-01-01:end_date=2024-01-01",
            "start_date 2025-01-01 is after",
        ),
        ("livecodebench:private=maybe", "private='maybe': expected true or false"),
        ("livecodebench:revision=abc", "revision='abc': expected a 40-hex-digit"),
        ("livecodebench:seed=1", "unknown livecodebench option 'seed'"),
        ("livecodebench:release", "bad livecodebench option 'release'"),
    ],
)
def test_bad_options_name_the_field(name: str, message: str) -> None:
    with pytest.raises((SrlabError, UnknownNameError), match=message):
        get_benchmark(name)


def test_releases_are_cumulative() -> None:
    assert release_files("v1") == ["test.jsonl"]
    assert release_files("v3") == ["test.jsonl", "test2.jsonl", "test3.jsonl"]
    assert parse_options({"release": "release_v6"}).release == "v6"


def test_hub_path_fails_clearly_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingDataError) as pinned:
        get_benchmark(f"livecodebench:revision={COMMIT}").load(tmp_path)
    assert f"livecodebench/code_generation_lite@{COMMIT}: HF_HUB_OFFLINE is set" in str(
        pinned.value
    )
    assert "livecodebench/test.jsonl" in str(pinned.value)
    # Without a revision it reads the pinned commit, never 'main'.
    assert LiveCodeBench().options.revision == PINNED_REVISION and re.fullmatch(r"[0-9a-f]{40}", PINNED_REVISION)
    with pytest.raises(MissingDataError, match=rf"code_generation_lite@{PINNED_REVISION}: HF_HUB_OFFLINE is set"):
        LiveCodeBench().load(tmp_path)


def test_correct_solutions_pass() -> None:
    loaded = samples()
    for sample_id, answer in [
        ("livecodebench-abc900_a", SUM),
        ("livecodebench-abc901_b", PREFIX),
        ("livecodebench-3900", PAIR),
        ("livecodebench-2050A", MEAN),
    ]:
        label, details = judged(loaded[sample_id], answer)
        assert label is True, (sample_id, details)
        assert (
            details["status"] == "passed" and details["cases"] == loaded[sample_id].meta["n_cases"]
        )


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nprint(sum(map(int, open(0).read().split())))",  # fd 0 itself, closed after
        "import os, sys\na, b = map(int, sys.stdin.readline().split())\nos.write(1, b'%d\\n' % (a + b))",
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n    exit(0)\n"
        "if __name__ == '__main__':\n    main()",
    ],
)
def test_competitive_io_styles_pass(code: str) -> None:
    assert judged(samples()["livecodebench-abc900_a"], f"```python\n{code}\n```")[0] is True


def test_expected_outputs_are_hidden_from_the_solution() -> None:
    label, details = judged(
        samples()["livecodebench-abc900_a"], "```python\nprint(open('cases.json').read())\n```"
    )
    assert label is False and "FileNotFoundError" in details["reason"]


def test_wrong_solutions_fail() -> None:
    loaded = samples()
    # Right on the public tests, wrong on a private one (a negative sum).
    label, details = judged(
        loaded["livecodebench-abc900_a"],
        "```python\na, b = map(int, input().split())\nprint(abs(a + b))\n```",
    )
    assert label is False and details["status"] == "failed"
    assert "case 3 failed: expected '-2\\n', got '2\\n'" in details["stderr"]
    # Private tests off: the same program passes (the public ones are all it sees).
    assert judged(samples(private="false")["livecodebench-abc900_a"], SUM)[0] is True
    wrong_pair = PAIR.replace("sorted(nums)[-2:]", "sorted(nums)[:2]")
    assert judged(loaded["livecodebench-3900"], wrong_pair)[0] is False
    crash = "```python\nraise ValueError('nope')\n```"
    label, details = judged(loaded["livecodebench-abc901_b"], crash)
    assert label is False and "ValueError: nope" in details["reason"]
    # An early clean exit skips the remaining cases: it must not count as a pass.
    early = "```python\nimport os\nos._exit(0)\n```"
    label, details = judged(loaded["livecodebench-abc900_a"], early)
    assert label is False and details["reason"] == "stopped before its last test case"


def test_infinite_loop_is_stopped_and_fails() -> None:
    sample = samples()["livecodebench-abc900_a"]
    label, details = judged(sample, "```python\nwhile True:\n    pass\n```", timeout_s=2)
    assert label is False and details["status"] in ("timeout", "killed"), details
    assert details["wall_s"] < 10


def test_stdout_comparison_is_whitespace_and_decimal_tolerant() -> None:
    assert stdout_matches("1 3 6  \n\n", "1 3 6\n")
    assert stdout_matches("  2.5\n", "2.50")
    assert not stdout_matches("2.5\n", "2.6\n")
    assert not stdout_matches("1\n2\n", "1 2\n")
    assert not stdout_matches("yes", "Yes")


def test_pass_at_k_from_sandbox_verdicts() -> None:
    """n = 4 samples per problem, judged for real, into the report's k-sample metrics."""
    loaded = samples()
    wrong_sum = SUM.replace("a + b", "a - b")
    wrong_pair = PAIR.replace("sorted(nums)[-2:]", "sorted(nums)[:2]")
    answers = {
        "livecodebench-abc900_a": [wrong_sum, SUM, wrong_sum, "```python\nwhile True: pass\n```"],
        "livecodebench-3900": [PAIR, wrong_pair, PAIR, "no code at all"],
    }
    labels = [
        [judged(loaded[sid], answer, timeout_s=2)[0] for answer in runs]
        for sid, runs in answers.items()
    ]
    assert labels == [[False, True, False, False], [True, False, True, False]]
    rates = {
        (s.name, s.k): s.rate
        for s in sampled_summaries("livecodebench", "code-exec", "correct", labels)
    }
    assert rates[("avg_at_k", 4)] == pytest.approx(3 / 8)  # pass@1
    # pass@2 per problem: 1 - C(3,2)/C(4,2) = 1/2 and 1 - C(2,2)/C(4,2) = 5/6.
    assert rates[("pass_at_k", 2)] == pytest.approx((1 / 2 + 5 / 6) / 2)
    assert rates[("pass_at_k", 4)] == pytest.approx(1.0)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
