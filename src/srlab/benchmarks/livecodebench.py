"""LiveCodeBench code generation (``livecodebench/code_generation_lite``), scored by ``code-exec``.

Name: ``livecodebench[:key=value...]``, colons between options (as for ``rg:``), e.g.
``livecodebench:release=v5:start_date=2024-08-01:difficulty=easy+medium``:

- ``release``: ``v1``…``v6`` (``release_vN`` also accepted), default ``v5``. A release is
  cumulative: release_vN is the hub's ``test.jsonl`` plus ``test2.jsonl``…``testN.jsonl``.
- ``start_date`` / ``end_date``: ``YYYY-MM-DD``, inclusive, on ``contest_date`` (LiveCodeBench's
  contamination window: keep problems published after the model's training cut-off).
- ``difficulty``: ``easy``, ``medium``, ``hard``, several joined by ``+``.
- ``private``: ``true`` (default) scores on public and private tests, as LiveCodeBench does;
  ``false`` on the public ones only (faster, easier).
- ``revision``: the hub commit to read (see below).

Local first: ``<data dir>/livecodebench/test.jsonl`` in the hub's row format (rows of the
release files concatenated), filtered by the same options except ``release`` (a local file is
taken as the release it holds). Else the hub, through ``huggingface_hub`` file downloads (the
dataset's loading script does not run under ``datasets`` 4+).

Revision: ``PINNED_REVISION`` is a commit of the dataset that holds every release file up to
``test6.jsonl``. It comes from a public evaluation script that downloads ``test6.jsonl`` at that
commit and checks its SHA-256 (``bb4c364f…d1f5``); this build could not reach the hub to check it
itself. ``revision=<commit>`` in the name reads another commit, ``revision=main`` the newest,
unpinned, with a warning.

Private tests are base64+zlib+pickle on the hub; they are decoded with ``io_cases``' restricted
unpickler, which refuses every global (so a crafted pickle cannot run code). Loading decodes
them once to validate and count them; samples keep the compressed text and the judge decodes
it again, so stored samples stay small.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from srlab.benchmarks.base import Benchmark
from srlab.benchmarks.builtin import check_unique_ids
from srlab.benchmarks.files import Row, read_rows
from srlab.benchmarks.sources import HubUnavailable, hub_offline_reason, missing_data_error
from srlab.errors import DataFormatError, SrlabError, UnknownNameError
from srlab.judge.io_cases import CaseFormatError, decode_cases
from srlab.paths import data_dir as resolve_data_dir
from srlab.schema import Sample

log = logging.getLogger(__name__)

NAME = "livecodebench"
PREFIX = NAME + ":"
REPO_ID = "livecodebench/code_generation_lite"
# Holds test.jsonl ... test6.jsonl (release_v6); where it comes from: the module docstring.
PINNED_REVISION = "48d36ed304dca42cf8ab20e941262ccd096518a3"
DEFAULT_RELEASE = "v5"
RELEASES = ("v1", "v2", "v3", "v4", "v5", "v6")
DIFFICULTIES = ("easy", "medium", "hard")
LOCAL_FILE = "livecodebench/test.jsonl"
REQUIRED = ("question_id", "question_content", "public_test_cases")
OPTIONS = ("release", "start_date", "end_date", "difficulty", "private", "revision")

# LiveCodeBench's own generation prompt (lcb_runner/prompts/code_generation.py), user turn only.
SYSTEM = (
    "You are an expert Python programmer. You will be given a question (problem specification) "
    "and will generate a correct Python program that matches the specification and passes all tests."
)
FORMAT_STDIN = (
    "### Format: Read the inputs from stdin solve the problem and write the answer to stdout "
    "(do not directly test on the sample inputs). Enclose your code within delimiters as follows. "
    "Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes "
    "output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n"
)
FORMAT_STARTER = (
    "### Format: You will use the following starter code to write the solution to the problem "
    "and enclose your code within delimiters.\n```python\n{starter_code}\n```\n\n"
)


def release_files(release: str) -> list[str]:
    """The hub files of a cumulative release: v3 -> test.jsonl, test2.jsonl, test3.jsonl."""
    number = RELEASES.index(release) + 1
    return ["test.jsonl", *(f"test{i}.jsonl" for i in range(2, number + 1))]


@dataclass(frozen=True)
class Options:
    release: str = DEFAULT_RELEASE
    start_date: date | None = None
    end_date: date | None = None
    difficulty: tuple[str, ...] = ()
    private: bool = True
    revision: str = PINNED_REVISION


def _date(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SrlabError(
            f"livecodebench option {key}={value!r}: expected a date YYYY-MM-DD"
        ) from None


def parse_options(params: dict[str, str]) -> Options:
    """Validated options; every error names the option."""
    unknown = sorted(set(params) - set(OPTIONS))
    if unknown:
        raise UnknownNameError("livecodebench option", unknown[0], OPTIONS)
    release = params.get("release", DEFAULT_RELEASE).removeprefix("release_")
    if release not in RELEASES:
        raise UnknownNameError("livecodebench option release", params["release"], RELEASES)
    start = _date("start_date", params["start_date"]) if "start_date" in params else None
    end = _date("end_date", params["end_date"]) if "end_date" in params else None
    if start and end and start > end:
        raise SrlabError(f"livecodebench options: start_date {start} is after end_date {end}")
    difficulty = tuple(params["difficulty"].lower().split("+")) if "difficulty" in params else ()
    for level in difficulty:
        if level not in DIFFICULTIES:
            raise UnknownNameError("livecodebench option difficulty", level, DIFFICULTIES)
    private = params.get("private", "true").lower()
    if private not in ("true", "false"):
        raise SrlabError(
            f"livecodebench option private={params['private']!r}: expected true or false"
        )
    revision = params.get("revision", PINNED_REVISION)
    if not re.fullmatch(r"[0-9a-f]{40}|main", revision):
        raise SrlabError(
            f"livecodebench option revision={revision!r}: expected a 40-hex-digit hub commit (or 'main')"
        )
    return Options(release, start, end, difficulty, private == "true", revision)


def parse_name(name: str) -> LiveCodeBench:
    """``livecodebench[:key=value...]``; the name as written identifies the benchmark."""
    if name != NAME and not name.startswith(PREFIX):
        raise SrlabError(f"{name!r} is not a livecodebench name ({NAME}[:key=value...])")
    params: dict[str, str] = {}
    for pair in name.split(":")[1:]:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise SrlabError(f"bad livecodebench option {pair!r} in {name!r}: expected key=value")
        params[key] = value
    return LiveCodeBench(parse_options(params), name=name)


def build_prompt(row: Row) -> str:
    starter = str(row.get("starter_code") or "").strip()
    fmt = FORMAT_STARTER.format(starter_code=starter) if starter else FORMAT_STDIN
    return (
        f"{SYSTEM}\n\n### Question:\n{row['question_content']}\n\n{fmt}"
        "### Answer: (use the provided format with backticks)\n\n"
    )


def _contest_date(row: Row) -> date | None:
    value = str(row.get("contest_date") or "")
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


class LiveCodeBench(Benchmark):
    kind = "reasoning"
    default_judges = ("code-exec",)

    def __init__(self, options: Options | None = None, name: str = NAME) -> None:
        self.options = options or Options()
        self.name = name
        self.description = (
            f"LiveCodeBench code generation {self.options.release} (stdin and LeetCode-style "
            "problems), pass@1 by running the tests in a sandbox"
        )

    def splits(self) -> list[str]:
        return ["test"]

    def local_path(self, data_dir: Path | None, split: str = "test") -> Path | None:
        directory = resolve_data_dir(data_dir)
        return directory / LOCAL_FILE if directory is not None else None

    def load(self, data_dir: Path | None, split: str = "test") -> list[Sample]:
        if split != "test":
            raise UnknownNameError(f"{self.name} split", split, ["test"])
        local = self.local_path(data_dir, split)
        if local is not None and local.is_file():
            rows, source = read_rows(local, REQUIRED), local
        else:
            try:
                rows = self.hub_rows()
            except HubUnavailable as exc:
                raise missing_data_error(
                    self.name, resolve_data_dir(data_dir), LOCAL_FILE, str(exc)
                ) from None
            source = Path(f"{REPO_ID}@{self.options.revision}")
        samples = [
            self._sample(row, index, source) for index, row in enumerate(rows) if self._keep(row)
        ]
        check_unique_ids(samples, source)
        return samples

    def hub_rows(self) -> list[Row]:
        """The release's rows from the hub at the pinned revision."""
        revision = self.options.revision
        if revision == "main":
            log.warning("reading %s at 'main': results are not pinned to a revision", REPO_ID)
        reason = hub_offline_reason()
        if reason:
            raise HubUnavailable(f"{REPO_ID}@{revision}: {reason}")
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            raise HubUnavailable("the 'huggingface_hub' package is not installed") from None
        rows: list[Row] = []
        for filename in release_files(self.options.release):
            try:
                path = hf_hub_download(REPO_ID, filename, repo_type="dataset", revision=revision)
            except Exception as exc:  # auth, not found, network: the hub raises many types
                raise HubUnavailable(
                    f"downloading {filename} of {REPO_ID}@{revision} failed: {exc}"
                ) from exc
            rows += read_rows(Path(path), REQUIRED)
        return rows

    def _keep(self, row: Row) -> bool:
        opts = self.options
        if opts.difficulty and str(row.get("difficulty", "")).lower() not in opts.difficulty:
            return False
        if opts.start_date or opts.end_date:
            day = _contest_date(row)
            if day is None:
                return False
            if (opts.start_date and day < opts.start_date) or (
                opts.end_date and day > opts.end_date
            ):
                return False
        return True

    def _sample(self, row: Row, index: int, source: Path) -> Sample:
        try:
            public = decode_cases(_text(row["public_test_cases"]))
            private_raw = _text(row.get("private_test_cases") or "")
            private = decode_cases(private_raw) if self.options.private else []
        except CaseFormatError as exc:
            raise DataFormatError(
                source, index + 1, f"question {row['question_id']}: {exc}"
            ) from None
        metadata = _metadata(row, source, index)
        cases = public + private
        testtypes = {case["testtype"] for case in cases}
        func_name = metadata.get("func_name")
        if "functional" in testtypes and not func_name:
            raise DataFormatError(source, index + 1, "functional tests need metadata.func_name")
        if not cases:
            raise DataFormatError(
                source, index + 1, f"question {row['question_id']} has no test cases"
            )
        return Sample(
            id=f"livecodebench-{row['question_id']}",
            prompt=build_prompt(row),
            benchmark=self.name,
            category=str(row.get("difficulty") or "") or None,
            meta={
                "cases": public,
                # The compressed text, decoded again by the judge: stored samples stay small.
                "private_cases": private_raw if self.options.private else "",
                "func_name": func_name,
                "testtype": "functional" if "functional" in testtypes else "stdin",
                "n_cases": len(cases),
                "platform": row.get("platform"),
                "contest_date": row.get("contest_date"),
                "question_title": row.get("question_title"),
            },
        )


def _text(value: Any) -> Any:
    return value if isinstance(value, (str, list)) else str(value)


def _metadata(row: Row, source: Path, index: int) -> dict[str, Any]:
    value = row.get("metadata") or {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise DataFormatError(source, index + 1, f"metadata is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise DataFormatError(source, index + 1, "metadata must be a JSON object")
    return value
