"""The program ``io_cases.run_cases`` runs inside the sandbox (standard library only).

It reads ``cases.json`` (then deletes it, so the solution cannot read the expected outputs or
the nonce) and ``solution.py``, runs every case, and prints ``<marker> <nonce> passed <n>`` as
its closing line only when all pass; the first failure is described on stderr with exit status 1.

Comparison follows LiveCodeBench: stdout and the expected output are split into stripped lines
(surrounding blank lines dropped); lines that differ still match when both are whitespace-
separated numbers equal as decimals. Functional results are compared with ``==`` after a tuple
becomes a list, as JSON would have it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

# LiveCodeBench runs solutions after a block of star imports, so code that uses List or
# defaultdict without importing them (as LeetCode allows) still runs.
PRELUDE = (
    "from typing import *\nfrom collections import *\nfrom itertools import *\n"
    "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
    "import collections, itertools, functools, heapq, bisect, math, string, re, sys\n"
)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except InvalidOperation:
        return None


def stdout_matches(got: str, expected: str) -> bool:
    got_lines, want_lines = _lines(got), _lines(expected)
    if len(got_lines) != len(want_lines):
        return False
    for got_line, want_line in zip(got_lines, want_lines, strict=True):
        if got_line == want_line:
            continue
        got_numbers, want_numbers = _decimals(got_line), _decimals(want_line)
        if got_numbers is None or want_numbers is None or got_numbers != want_numbers:
            return False
    return True


def _redirect(path: str, target: int, flags: int) -> None:
    """Point fd ``target`` at ``path``. The solution may have closed it (a dropped ``open(0)``
    closes fd 0), in which case ``os.open`` already returns ``target`` and must stay open."""
    fd = os.open(path, flags, 0o600)
    if fd != target:
        os.dup2(fd, target)
        os.close(fd)


def _run_stdin(code: Any, index: int, case: dict[str, str]) -> str:
    """The program's stdout on this case; fd-level redirection so ``open(0)`` and
    ``sys.stdin.buffer`` read the input and ``os.write(1, ...)`` is captured too."""
    in_path, out_path = f"stdin-{index}.txt", f"stdout-{index}.txt"
    with open(in_path, "w", encoding="utf-8") as handle:
        handle.write(case["input"])
    _redirect(in_path, 0, os.O_RDONLY)
    _redirect(out_path, 1, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115 - fd 0 outlives this call
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise RuntimeError(f"exited with status {exc.code!r}") from None
    finally:
        _flush()
    with open(out_path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _flush() -> None:
    with contextlib.suppress(Exception):  # the solution may have closed or replaced sys.stdout
        sys.stdout.flush()


def _function(code: Any, func_name: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": __builtins__}
    exec(code, namespace)
    if "Solution" in namespace and hasattr(namespace["Solution"], func_name):
        return lambda *args: getattr(namespace["Solution"](), func_name)(*args)
    if callable(namespace.get(func_name)):
        return namespace[func_name]
    raise RuntimeError(f"the code defines neither Solution.{func_name} nor {func_name}")


def main() -> int:
    real_out = os.dup(1)  # the sandbox's stdout, kept for the closing line whatever fd 1 becomes
    with open("cases.json", encoding="utf-8") as handle:
        spec = json.load(handle)
    os.remove("cases.json")
    with open("solution.py", encoding="utf-8") as handle:
        code = compile(PRELUDE + handle.read(), "solution.py", "exec")
    cases, func_name = spec["cases"], spec["func_name"]
    function = _function(code, func_name) if func_name else None
    for index, case in enumerate(cases):
        if case["testtype"] == "functional":
            if function is None:
                raise RuntimeError("a functional case needs the problem's func_name")
            args = [json.loads(line) for line in case["input"].split("\n") if line.strip()]
            result = function(*args)
            result = list(result) if isinstance(result, tuple) else result
            ok, got = result == json.loads(case["output"]), repr(result)
        else:
            got = _run_stdin(code, index, case)
            ok = stdout_matches(got, case["output"])
        if not ok:
            print(
                f"case {index} failed: expected {case['output'][:200]!r}, got {got[:200]!r}",
                file=sys.stderr,
            )
            return 1
    _flush()
    os.write(real_out, f"\n{spec['marker']} {spec['nonce']} passed {len(cases)}\n".encode())
    return 0
