"""Input/output test cases (LiveCodeBench's format): decoding them safely, and the sandbox run.

A case is ``{"input": str, "output": str, "testtype": "stdin" | "functional"}``. ``stdin`` cases
feed ``input`` to the program on standard input and compare its standard output; ``functional``
cases hold one JSON value per line of ``input`` (the arguments) and a JSON ``output``, and call
``Solution().<func_name>(*args)`` (or a top-level ``func_name``).

LiveCodeBench compresses large private test lists as base64(zlib(pickle(json string))). A pickle
runs code on load (``find_class`` can import and call anything), so ``decode_cases`` unpickles
with ``SafeUnpickler``, which resolves *no* global at all: a pickle of plain str/list/dict/
int/float/bool/None needs none, and anything else is refused before it can run.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import secrets
import zlib
from pathlib import Path
from typing import Any, NoReturn

from srlab.judge.sandbox import SandboxLimits, SandboxResult, run_python

TESTTYPES = ("stdin", "functional")
# A zlib bomb must not exhaust memory: LiveCodeBench's largest decoded case lists are ~100 MB.
MAX_DECODED_BYTES = 512 * 1024 * 1024
HARNESS = Path(__file__).with_name("code_harness.py")
MARKER = "SRLAB-IO-CASES"


class CaseFormatError(ValueError):
    """Test cases that are malformed or unsafe to decode; the message says which."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickles builtin containers and scalars only: every global and persistent id is refused."""

    def find_class(self, module: str, name: str) -> NoReturn:
        raise pickle.UnpicklingError(
            f"refused to load global {module}.{name}: only plain data is allowed"
        )

    def persistent_load(self, pid: Any) -> NoReturn:
        raise pickle.UnpicklingError("refused a persistent id: only plain data is allowed")


def safe_unpickle(data: bytes) -> Any:
    return SafeUnpickler(io.BytesIO(data)).load()


def _decompress(blob: bytes) -> bytes:
    inflater = zlib.decompressobj()
    data = inflater.decompress(blob, MAX_DECODED_BYTES)
    if inflater.unconsumed_tail:
        raise CaseFormatError(f"decompressed test cases exceed {MAX_DECODED_BYTES} bytes")
    return data


def decode_cases(raw: str | list[Any]) -> list[dict[str, str]]:
    """A case list from a JSON string, a compressed string (base64 → zlib → pickle → JSON), or a list."""
    value: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                unpickled = safe_unpickle(_decompress(base64.b64decode(text, validate=True)))
            except (binascii.Error, zlib.error) as exc:
                raise CaseFormatError(f"neither JSON nor base64+zlib+pickle ({exc})") from None
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
                raise CaseFormatError(f"unsafe or corrupt pickle: {exc}") from None
            value = json.loads(unpickled) if isinstance(unpickled, str) else unpickled
    return check_cases(value)


def check_cases(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise CaseFormatError(f"test cases must be a list, not {type(value).__name__}")
    cases = []
    for index, case in enumerate(value):
        if not isinstance(case, dict) or not all(
            isinstance(case.get(k), str) for k in ("input", "output")
        ):
            raise CaseFormatError(
                f"case {index} must be an object with string 'input' and 'output'"
            )
        testtype = case.get("testtype", "stdin")
        if testtype not in TESTTYPES:
            raise CaseFormatError(
                f"case {index}: testtype {testtype!r}; expected one of {', '.join(TESTTYPES)}"
            )
        cases.append({"input": case["input"], "output": case["output"], "testtype": testtype})
    return cases


def run_cases(
    code: str, cases: list[dict[str, str]], func_name: str | None, limits: SandboxLimits
) -> tuple[bool, SandboxResult]:
    """Run ``code`` on every case in one sandboxed process; stops at the first failing case.

    Passed needs exit status 0 *and* the harness's closing line with a fresh nonce: code that
    ends the process early (``os._exit(0)``) must not pass by skipping the remaining cases.
    """
    nonce = secrets.token_hex(8)
    spec = {"cases": cases, "func_name": func_name, "nonce": nonce, "marker": MARKER}
    program = HARNESS.read_text(encoding="utf-8") + "\n\nraise SystemExit(main())\n"
    result = run_python(
        program, limits, files={"solution.py": code, "cases.json": json.dumps(spec)}
    )
    lines = result.stdout.splitlines()
    done = f"{MARKER} {nonce} passed {len(cases)}" in lines
    return result.passed and done, result
