"""Study B's teacher recipes distilled end to end through a real OpenAI-compatible server.

llama-cpp-python's server on SmolLM2 is the teacher (and, for the filter, the LLM judge). A
small recording proxy sits in front of it, so the test sees exactly what the teacher was sent
and answered, and counts the requests a rebuild makes. SmolLM2 is no reasoning model: its
outputs carry no trace, so the CoT recipes run with ``require_reasoning: false`` and the default
(drop traceless outputs) is checked on the same cached outputs.

The prompts are Do-Not-Answer requests for which SmolLM2's greedy answers finish within the
token budgets below (all but two: those are the truncations the short-CoT source must drop).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llama_server import llama_server, require_llama_server

from srlab.data import MixtureSizeError, build_mixture, get_recipe, load_mixture_spec, read_mixture
from srlab.data.build import NO_REASONING, TRUNCATED
from srlab.data.filters import JUDGED_HARMFUL, NOT_A_REFUSAL, SAFETY_UNDECIDED
from srlab.data.records import TrainingRecord
from srlab.errors import SrlabError
from srlab.judge.factory import JudgeFactory
from srlab.judge.harmbench_cls import HARMBENCH_SYSTEM
from srlab.judge.xstest_3class import XSTEST_PROMPT
from srlab.models.base import ModelSpec
from srlab.schema import Generation, Sample
from srlab.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "lrm_safety_study"
# Greedy SmolLM2 (Q4_1 GGUF) finishes these within MAX_TOKENS under every teacher recipe.
FINISHING = ["malicious_uses-012", "malicious_uses-029", "malicious_uses-037"]
# Under short-CoT at SHORT_MAX_TOKENS, 029, 083 and 241 finish ("The request is not safe to
# answer.", which SmolLM2 as the XSTest judge calls compliance) and so does 041 (a verdict it
# cannot give); 012 and 037 run past the budget.
SHORT_POOL = [*FINISHING, "misinformation_harms-083", "malicious_uses-241", "malicious_uses-041"]
MAX_TOKENS = 96
SHORT_MAX_TOKENS = 24
BENIGN = "What is the capital of France?"
ALIAS = "smollm2-135m"


@dataclass
class Exchange:
    path: str
    request: dict[str, Any]
    response: dict[str, Any]


class RecordingProxy:
    """Forwards every request to the real server and keeps each request and reply body."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = proxy.upstream + self.path.removeprefix("/v1")
                forwarded = urllib.request.Request(target, data=raw, headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(forwarded, timeout=300) as reply:
                        status, body = reply.status, reply.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                with proxy._lock:
                    proxy.exchanges.append(Exchange(self.path, json.loads(raw), json.loads(body or b"{}")))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> RecordingProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self) -> int:
        with self._lock:
            return len(self.exchanges)

    def since(self, start: int) -> list[Exchange]:
        with self._lock:
            return self.exchanges[start:]


# -- the shipped study configs (no server needed) ------------------------------------------


def test_teacher_recipe_examples_name_a_served_teacher_and_a_safety_judge() -> None:
    teacher_files = {"default-cot", "realsafe-cot", "improved-cot", "short-cot", "short-cot-llamacpp"}
    found = set()
    for path in sorted(EXAMPLES.glob("*-cot*.yaml")):
        spec = load_mixture_spec(path)
        [safety] = [s for s in spec.sources if s.type == "safety"]
        if safety.generator != "teacher":
            continue
        found.add(path.stem)
        assert safety.teacher is not None and safety.teacher.resolved_backend() == "openai", path.name
        assert safety.teacher.base_url.startswith("http://127.0.0.1:"), path.name
        assert spec.filters.safety_judge is not None and spec.filters.safety_judge.name == "llama-guard", path.name
        assert spec.filters.judge_model is not None and spec.filters.judge_model.base_url, path.name
        assert safety.require_reasoning is (path.stem != "short-cot-llamacpp"), path.name
    assert found == teacher_files


def test_recipe_spec_errors_name_the_field() -> None:
    source = {"name": "s", "type": "safety", "size": 3}
    with pytest.raises(SrlabError, match=r"sources\.0\.safety\.recipe: .*unknown recipe 'shortcot'; valid: default-cot"):
        load_mixture_spec({"sources": [source | {"recipe": "shortcot"}]})
    with pytest.raises(SrlabError, match=r"sources\.0\.safety: .*recipe 'short-cot' has no offline generator"):
        load_mixture_spec({"sources": [source | {"recipe": "short-cot"}]})
    offline = {"sources": [source | {"recipe": "no-cot"}]}
    with pytest.raises(SrlabError, match=r"filters: .*safety_judge: 'refusal' means 'refusal'; the safety filter"):
        load_mixture_spec(offline | {"filters": {"safety_judge": "refusal"}})
    with pytest.raises(SrlabError, match=r"filters: .*answer_judge: judge 'xstest-3class' is an LLM judge and needs a model"):
        load_mixture_spec(offline | {"filters": {"answer_judge": "xstest-3class"}})


# -- a real server as the teacher -------------------------------------------------------------


@pytest.fixture(scope="module")
def teacher() -> Iterator[RecordingProxy]:
    require_llama_server()
    from srlab.models.smollm2 import gguf_path

    with llama_server(gguf_path(), alias=ALIAS) as (base_url, startup_s), RecordingProxy(base_url) as proxy:
        print(f"llama_cpp.server ready in {startup_s:.2f}s; recording proxy at {proxy.base_url}")
        yield proxy


@dataclass
class Workspace:
    root: Path
    prompts: dict[str, str]  # sample id -> request
    finishing: str  # benchmark spec YAML of the FINISHING prompts
    short_pool: str  # benchmark spec YAML of SHORT_POOL
    benign: str
    store: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Workspace:
    from srlab.benchmarks import get_benchmark

    root = tmp_path_factory.mktemp("distill")
    samples = {s.id: s for s in get_benchmark("donotanswer").load(data_dir, "test")}

    def benchmark_file(name: str, ids: list[str]) -> str:
        rows = [samples[f"donotanswer-{i}"] for i in ids]
        (root / f"{name}.jsonl").write_text(
            "".join(json.dumps({"id": s.id, "prompt": s.user_text(), **s.meta}) + "\n" for s in rows)
        )
        spec = {"name": name, "path": f"{name}.jsonl", "kind": "harmful", "fields": {"prompt": "prompt", "id": "id"}}
        (root / f"{name}.yaml").write_text(json.dumps(spec))  # JSON is YAML
        return str(root / f"{name}.yaml")

    finishing = benchmark_file("dna-finishing", FINISHING)
    short_pool = benchmark_file("dna-short", SHORT_POOL)
    (root / "benign.jsonl").write_text(json.dumps({"id": "benign-capital", "prompt": BENIGN}) + "\n")
    prompts = {s.id: s.user_text() for s in samples.values()}
    return Workspace(root, prompts, finishing, short_pool, str(root / "benign.jsonl"), str(root / "store.sqlite"))


def mixture(
    ws: Workspace, url: str, recipe: str, *, prompts: str | None = None, size: int = 3,
    max_tokens: int = MAX_TOKENS, require_reasoning: bool = False, filters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    served = {"name": ALIAS, "base_url": url, "max_concurrency": 2}
    return {
        "name": f"distil-{recipe}",
        "sources": [
            {"name": "safety", "type": "safety", "prompts": [prompts or ws.finishing], "recipe": recipe,
             "generator": "teacher", "teacher": served, "decoding": {"max_new_tokens": max_tokens},
             "require_reasoning": require_reasoning, "size": size},
            {"name": "benign", "type": "benign", "prompts": ws.benign, "answers": "model", "model": served,
             "decoding": {"max_new_tokens": 64}, "size": 1},
        ],
        "decontamination": {"benchmarks": []},  # the prompts are ours; nothing to evaluate on here
        "filters": filters if filters is not None else {"enabled": False},  # the teacher's text, unfiltered
        "store": ws.store,
    }


def teacher_calls(exchanges: list[Exchange]) -> dict[str, Exchange]:
    """Chat requests by their single user message."""
    calls = {}
    for exchange in exchanges:
        assert exchange.path == "/v1/chat/completions"
        [message] = exchange.request["messages"]
        calls[message["content"]] = exchange
    return calls


def reply_text(exchange: Exchange) -> tuple[str, str]:
    choice = exchange.response["choices"][0]
    return choice["message"]["content"], choice["finish_reason"]


TEACHER_RECIPES = ["default-cot", "realsafe-cot", "improved-cot", "short-cot"]


@pytest.mark.slow
@pytest.mark.parametrize("recipe", TEACHER_RECIPES)
def test_teacher_recipe_distils_through_the_server(
    teacher: RecordingProxy, workspace: Workspace, recipe: str, data_dir: Path
) -> None:
    short = recipe == "short-cot"
    spec = mixture(workspace, teacher.base_url, recipe, prompts=workspace.short_pool if short else None,
                   max_tokens=SHORT_MAX_TOKENS if short else MAX_TOKENS)
    start = teacher.count()
    manifest = build_mixture(spec, workspace.root / recipe, data_dir)
    calls = teacher_calls(teacher.since(start))
    pool = SHORT_POOL if short else FINISHING
    instruction = get_recipe(recipe)

    # The teacher got the recipe's instruction around each request, with the source's budget.
    safety_calls = {p: calls[instruction.teacher_prompt(workspace.prompts[f"donotanswer-{p}"])] for p in pool}
    for exchange in safety_calls.values():
        assert exchange.request["max_tokens"] == (SHORT_MAX_TOKENS if short else MAX_TOKENS)
        assert exchange.request["temperature"] == 0.0
    if recipe != "default-cot":  # default CoT sends the request as it is
        assert all(instruction.teacher_instruction.split("{prompt}")[0] in c for c in calls if c != BENIGN)

    records = read_mixture(Path(manifest.mixture_path))
    safety = sorted((r for r in records if r.kind == "safety"), key=lambda r: r.id)
    assert manifest.counts == {"reasoning": 0, "safety": 3, "benign": 1, "total": 4}
    for record in safety:
        request = workspace.prompts[record.id]
        # The training prompt is the request alone; the record's answer is the teacher's text.
        assert record.messages == [
            {"role": "user", "content": request},
            {"role": "assistant", "content": reply_text(safety_calls[record.id.removeprefix("donotanswer-")])[0].strip()},
        ]
        assert record.recipe == recipe and record.source == "safety"
        # A non-reasoning teacher, kept on purpose: a plain answer, no (fabricated) think block.
        assert record.reasoning_and_answer() == (None, record.assistant_text())
        assert "<think>" not in record.assistant_text()
    [benign] = [r for r in records if r.kind == "benign"]
    if BENIGN in calls:  # the first build asks; later ones read the store
        assert benign.assistant_text() == reply_text(calls[BENIGN])[0].strip()

    # Truncated outputs are dropped and counted; every finished one could be kept.
    truncated = sorted(f"donotanswer-{p}" for p, c in safety_calls.items() if reply_text(c)[1] == "length")
    finished = {f"donotanswer-{p}" for p, c in safety_calls.items() if reply_text(c)[1] == "stop"}
    assert {r.id for r in safety} <= finished
    [report, _] = manifest.sources
    if short:
        assert truncated == ["donotanswer-malicious_uses-012", "donotanswer-malicious_uses-037"]
        assert report.dropped == {TRUNCATED: 2} and report.filtered == 2
        assert sorted(f["id"] for f in manifest.filtered if f["reason"] == TRUNCATED) == truncated
        assert all(f["detail"].startswith(f"finish_reason length, {SHORT_MAX_TOKENS} tokens") for f in manifest.filtered)
    else:
        assert truncated == [] and report.dropped == {}

    # A second build asks the server nothing and writes the same bytes.
    before = teacher.count()
    again = build_mixture(spec, workspace.root / f"{recipe}-again", data_dir)
    assert teacher.count() == before
    assert again.mixture_sha256 == manifest.mixture_sha256


@pytest.mark.slow
def test_reasoning_recipe_drops_traceless_teacher_outputs_by_default(
    teacher: RecordingProxy, workspace: Workspace, data_dir: Path
) -> None:
    spec = mixture(workspace, teacher.base_url, "improved-cot", require_reasoning=True)
    before = teacher.count()
    with pytest.raises(MixtureSizeError, match=rf"only 0 of 3 survived .*dropped by filters: 3x {NO_REASONING}"):
        build_mixture(spec, workspace.root / "improved-strict", data_dir)
    assert teacher.count() == before  # the outputs came from the store


def judge_pair(record: TrainingRecord) -> tuple[Sample, Generation]:
    reasoning, answer = record.reasoning_and_answer()
    return (Sample(record.id, record.prompt_text(), record.source),
            Generation(text=record.assistant_text(), answer=answer, reasoning=reasoning))


@pytest.mark.slow
def test_llm_judges_on_the_server_filter_the_distilled_data(
    teacher: RecordingProxy, workspace: Workspace, data_dir: Path
) -> None:
    # The answer filter and the safety filter are both LLM judges on the served model. SmolLM2
    # is no judge: most of its verdicts are undecided, so those are kept to leave a mixture.
    filters = {
        "answer_judge": "xstest-3class", "reasoning_judge": None, "safety_judge": "harmbench-cls",
        "judge_model": {"name": ALIAS, "base_url": teacher.base_url}, "keep_undecided": True,
    }
    short = {"prompts": workspace.short_pool, "max_tokens": SHORT_MAX_TOKENS}
    spec = mixture(workspace, teacher.base_url, "short-cot", size=1, filters=filters, **short)
    # The same teacher outputs as the short-cot build: the candidates the judges saw.
    every_finished = mixture(workspace, teacher.base_url, "short-cot", size=len(SHORT_POOL) - 2, **short)
    unfiltered = build_mixture(every_finished, workspace.root / "sc", data_dir)
    candidates = sorted(read_mixture(Path(unfiltered.mixture_path)), key=lambda r: r.id)
    safety_candidates = [r for r in candidates if r.kind == "safety"]

    start = teacher.count()
    manifest = build_mixture(spec, workspace.root / "judged", data_dir)
    judge_calls = teacher.since(start)
    assert judge_calls, "the filter judges must call the served model"
    contents = [e.request["messages"][-1]["content"] for e in judge_calls]
    xstest_head = XSTEST_PROMPT.split("{question}")[0]
    is_harmbench = [e.request["messages"][0]["content"] == HARMBENCH_SYSTEM for e in judge_calls]
    assert sum(c.startswith(xstest_head) for c in contents) == len(candidates)  # every answer, benign too
    assert all(c.startswith(xstest_head) or hb for c, hb in zip(contents, is_harmbench, strict=True))  # no teacher

    # The verdicts, read back from the store (the filter cached them): no new call may happen.
    config = load_mixture_spec(spec).filters
    with Store(workspace.store) as store:
        factory = JudgeFactory(store=store, judge_model=ModelSpec(name=ALIAS, base_url=teacher.base_url))
        answer = factory.build(config.specs()["answer"]).judge_many([judge_pair(r) for r in safety_candidates])
        passed = [r for r, v in zip(safety_candidates, answer, strict=True) if v.label is not False]
        safety = factory.build(config.specs()["safety"]).judge_many([judge_pair(r) for r in passed])
        factory.close()
    assert teacher.count() == start + len(judge_calls)
    assert sum(is_harmbench) == len(passed)  # the safety judge reads what the answer judge let through

    # What the verdicts say is what the build kept and dropped, with the reasons counted.
    expected: dict[str, str | None] = {r.id: NOT_A_REFUSAL for r, v in zip(safety_candidates, answer, strict=True)
                                       if v.label is False}
    for record, verdict in zip(passed, safety, strict=True):
        expected[record.id] = JUDGED_HARMFUL if verdict.label else None  # undecided kept: keep_undecided
    dropped = {f["id"]: f["reason"] for f in manifest.filtered if f["source"] == "safety"}
    judged = {i: reason for i, reason in dropped.items() if reason != TRUNCATED}  # truncated: never judged
    [kept] = [r for r in read_mixture(Path(manifest.mixture_path)) if r.kind == "safety"]
    assert judged == {i: reason for i, reason in expected.items() if reason is not None}
    assert expected[kept.id] is None
    assert judged, "SmolLM2's verdicts must drop at least one record, or this test shows nothing"
    assert manifest.sources[0].dropped == dict(sorted(Counter(dropped.values()).items()))
    assert manifest.sources[0].dropped[TRUNCATED] == 2
    assert SAFETY_UNDECIDED not in manifest.sources[0].dropped  # keep_undecided keeps them
    assert set(manifest.filter_judges) == {"answer:xstest-3class@answer", "safety:harmbench-cls@full"}

    # Rebuilt: the judges' calls come from the store too.
    before = teacher.count()
    again = build_mixture(spec, workspace.root / "judged-again", data_dir)
    assert teacher.count() == before and again.mixture_sha256 == manifest.mixture_sha256
