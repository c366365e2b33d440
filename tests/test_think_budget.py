"""Think budgets (no-think, short-think, extended) on the embedded SmolLM2, keys, configs, report.

SmolLM2-135M is no reasoning model, but after a prefilled ``<think>\\n`` it writes a short trace
and closes it with ``</think>`` on its own ("The answer is 5." for 2+3, greedy), so the real model
exercises every path: an early close (extended's "Wait"), a forced close at the budget, an empty
trace. Everything is greedy and at most a few dozen tokens.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from srlab.errors import SrlabError
from srlab.experiment.config import StrategyEntry, load_experiment
from srlab.experiment.evaluate import EvalConfig
from srlab.experiment.plan import make_plan
from srlab.generate.think import EMPTY_TRACE
from srlab.hashing import content_hash
from srlab.models import ModelSpec
from srlab.models.hf_backend import HFBackend
from srlab.models.http_backend import OpenAIBackend
from srlab.report.build import build_report
from srlab.report.html import render_html
from srlab.schema import DecodingConfig, GenerationRequest, ThinkBudget
from srlab.store import Store, generation_key

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_openai_server import FakeOpenAIServer, Reply  # noqa: E402
from llama_server import llama_server, require_llama_server  # noqa: E402

ADD = [{"role": "user", "content": "What is 2+3?"}]
DECODING = DecodingConfig(max_new_tokens=32)


def _think(text: str) -> ThinkBudget:
    return ThinkBudget.parse(text)


@pytest.fixture(scope="module")
def smollm2() -> Iterator[HFBackend]:
    backend = HFBackend(ModelSpec(name="smollm2-135m", device="cpu", batch_size=4))
    yield backend
    backend.close()


def _one(backend: HFBackend, think: str | None, decoding: DecodingConfig = DECODING) -> object:
    budget = _think(think) if think else None
    [generation] = backend.generate([GenerationRequest(ADD, decoding, think=budget)])
    return generation


# -- the real model on the HF backend ------------------------------------------------------------


def test_short_think_forces_the_close_at_the_budget_then_answers(smollm2: HFBackend) -> None:
    generation = _one(smollm2, "short-think:3")
    assert generation.reasoning_tokens is not None and 0 < generation.reasoning_tokens <= 3
    assert generation.reasoning_tokens == smollm2.count_tokens(generation.reasoning)
    assert generation.text.startswith(f"<think>\n{generation.reasoning}\n</think>\n\n")
    assert generation.answer and generation.text.endswith(generation.answer)
    # The forced trace is the start of the trace the model writes when left to close it.
    closed = _one(smollm2, "short-think:16")
    assert closed.reasoning == "The answer is 5."  # SmolLM2 closes its own trace here (greedy)
    assert closed.reasoning.startswith(generation.reasoning)
    assert closed.reasoning_tokens == 6 < 16
    assert generation.completion_tokens <= DECODING.max_new_tokens
    assert not generation.truncated or generation.finish_reason == "length"


def test_no_think_gives_an_empty_trace_and_an_answer(smollm2: HFBackend) -> None:
    generation = _one(smollm2, "no-think")
    assert (generation.reasoning, generation.reasoning_tokens) == ("", 0)
    assert generation.text == EMPTY_TRACE + generation.answer
    assert "5" in generation.answer


def test_extended_replaces_each_early_close_with_wait_the_given_times(smollm2: HFBackend) -> None:
    decoding = DecodingConfig(max_new_tokens=40)
    once = _one(smollm2, "extended:1", decoding)
    twice = _one(smollm2, "extended:2", decoding)
    # The model closed after "The answer is 5."; each close became "Wait" and the trace went on.
    assert once.reasoning.startswith("The answer is 5.\nWait")
    assert (once.reasoning.count("Wait"), twice.reasoning.count("Wait")) == (1, 2)
    assert twice.reasoning.startswith(once.reasoning.rsplit("\n", 1)[0])
    assert twice.reasoning_tokens > once.reasoning_tokens > 6
    assert twice.completion_tokens <= decoding.max_new_tokens


def test_think_budgets_are_greedy_deterministic_and_batch_independent(smollm2: HFBackend) -> None:
    budgets = [None, _think("no-think"), _think("short-think:3"), _think("extended:1")]
    requests = [GenerationRequest(ADD, DECODING, think=b) for b in budgets]
    together = smollm2.generate(requests)
    again = smollm2.generate(list(reversed(requests)))[::-1]
    alone = [smollm2.generate([r])[0] for r in requests]
    assert [g.text for g in together] == [g.text for g in again] == [g.text for g in alone]
    assert len({g.text for g in together}) == 4


def test_llamacpp_backend_drives_the_same_budgets(smollm2: HFBackend) -> None:
    pytest.importorskip("llama_cpp")
    from srlab.models.llamacpp_backend import LlamaCppBackend

    backend = LlamaCppBackend(ModelSpec(name="smollm2-135m", backend="llamacpp", threads=1))
    try:
        for think in ("no-think", "short-think:3", "extended:1"):
            [mine] = backend.generate([GenerationRequest(ADD, DECODING, think=_think(think))])
            hf = _one(smollm2, think)
            # Float32 llama.cpp follows HF's greedy text on these few tokens (see llamacpp_backend).
            assert (mine.reasoning, mine.reasoning_tokens) == (hf.reasoning, hf.reasoning_tokens), think
    finally:
        backend.close()


# -- cache keys, run ids, configs ------------------------------------------------------------------


def test_a_think_budget_keys_its_own_cache_entry_and_no_budget_keeps_todays_key() -> None:
    identity = {"name": "smollm2-135m"}
    plain = GenerationRequest(ADD, DECODING)
    # The key as computed before think budgets existed.
    today = content_hash({"model": identity, "decoding": DECODING.model_dump(), "messages": ADD}, length=24)
    assert generation_key(identity, plain) == today
    keys = {
        text: generation_key(identity, GenerationRequest(ADD, DECODING, think=_think(text)))
        for text in ("no-think", "short-think:8", "short-think:16", "extended:1", "extended:2", "extended:2:16")
    }
    assert len(set(keys.values())) == len(keys) and today not in keys.values()


def test_default_budget_is_no_budget_in_requests_run_ids_and_labels(tmp_path: Path) -> None:
    from srlab.generate.think import effective

    assert effective(_think("default")) is None
    assert "think" not in StrategyEntry(name="direct").model_dump()
    config = EvalConfig(model={"name": "smollm2-135m"}, benchmarks=["chain_sum_easy"])
    assert config.run_id() == "eval-" + content_hash(config.model_dump(mode="json", exclude={"store", "think", "think_sweep"}))
    assert "think" not in config.to_experiment().model_dump()["strategy_config"]
    thinking = EvalConfig(model={"name": "smollm2-135m"}, benchmarks=["chain_sum_easy"], think=_think("no-think"))
    assert thinking.run_id() != config.run_id()
    assert thinking.to_experiment().strategies[0].display == "cot+no-think"
    assert StrategyEntry(name="direct", think="short-think:64").display == "direct+short-think-64"


def test_budget_parsing_and_config_errors_name_the_field(tmp_path: Path) -> None:
    assert _think("extended:2:512") == ThinkBudget(mode="extended", extend_times=2, budget_tokens=512)
    for bad in ("short-think", "extended", "no-think:5", "long-think", "short-think:x"):
        with pytest.raises(ValueError, match="short-think:TOKENS"):
            _think(bad)
    with pytest.raises(ValueError, match="needs budget_tokens"):
        ThinkBudget(mode="short-think")

    def experiment(strategies: list[object], max_new_tokens: int = 16) -> Path:
        path = tmp_path / "exp.yaml"
        path.write_text(yaml.safe_dump({
            "name": "t", "models": ["smollm2-135m"], "strategies": strategies,
            "benchmarks": {"reasoning": ["chain_sum_easy"]}, "decoding": {"max_new_tokens": max_new_tokens},
        }))
        return path

    with pytest.raises(SrlabError, match=r"strategies\.1\.think.*budget_tokens"):
        load_experiment(experiment(["direct", {"name": "direct", "think": {"mode": "short-think"}}]))
    with pytest.raises(SrlabError, match=r"strategies\.0\.think.*long-think"):
        load_experiment(experiment([{"name": "direct", "think": "long-think"}]))
    with pytest.raises(SrlabError, match=r"strategies\.0\.think\.budget_tokens \(16\) must be below decoding\.max_new_tokens"):
        make_plan(load_experiment(experiment([{"name": "direct", "think": "short-think:16"}])))
    # Two entries of one strategy differ by their budget's label: no label needed.
    config = load_experiment(experiment([{"name": "direct", "think": "no-think"}, {"name": "direct"}]))
    assert [s.display for s in config.strategies] == ["direct+no-think", "direct"]


def test_eval_think_flag_errors_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srlab.cli import main

    code = main(["eval", "--model", "smollm2-135m", "--benchmarks", "chain_sum_easy", "--think", "short",
                 "--store", str(tmp_path / "s.sqlite")])
    assert code != 0
    assert "--think: think budget 'short': expected no-think, default, short-think:TOKENS" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()  # stopped before any work


def test_trace_counts_survive_the_store(tmp_path: Path) -> None:
    from srlab.models.reasoning import make_generation

    generation = make_generation("<think>\nab\n</think>\n\nc")
    generation.reasoning_tokens = 3
    with Store(tmp_path / "s.sqlite") as store:
        request = GenerationRequest(ADD, DECODING, think=_think("short-think:4"))
        store.put_generations([("k", {"name": "m"}, request, generation)])
        assert store.get_generations(["k"])["k"].reasoning_tokens == 3
        row = store.conn.execute("SELECT request FROM generations WHERE key='k'").fetchone()
        assert json.loads(row["request"])["think"]["budget_tokens"] == 4


# -- srlab eval end to end: budgets as a strategy axis, trace length in the report -----------------


def test_eval_with_a_think_budget_reports_mean_trace_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srlab.cli import main

    store = str(tmp_path / "s.sqlite")
    common = ["eval", "--model", "smollm2-135m", "--device", "cpu", "--benchmarks", "chain_sum_easy",
              "--strategy", "direct", "--limit", "2", "--max-new-tokens", "16", "--store", store]
    assert main([*common, "--think", "short-think:4", "--output", str(tmp_path / "short.json")]) == 0
    short = json.loads((tmp_path / "short.json").read_text())
    assert main([*common, "--think", "no-think", "--output", str(tmp_path / "none.json")]) == 0
    none = json.loads((tmp_path / "none.json").read_text())
    out = capsys.readouterr().out
    assert "mean trace tokens" in out and "direct+short-think-4" in out
    [short_row], [none_row] = short["rows"], none["rows"]
    assert none_row["mean_trace_tokens"] == 0.0
    assert 0 < short_row["mean_trace_tokens"] <= 4
    with Store(store) as opened:
        counts = [r[0] for r in opened.conn.execute("SELECT reasoning_tokens FROM generations")]
        html = render_html(build_report(opened, short["provenance"]["run_id"]))
    assert len(counts) == 4 and all(c is not None and c <= 4 for c in counts)
    assert "<th>Mean trace tokens</th>" in html
    assert f'<td class="num">{short_row["mean_trace_tokens"]:.1f}</td></tr>' in html


# -- the openai backend ---------------------------------------------------------------------------


@pytest.mark.slow
def test_llama_cpp_server_cannot_continue_a_prefill_so_a_budget_is_a_clear_error() -> None:
    require_llama_server()
    from srlab.models.smollm2 import ALIAS, gguf_path

    with llama_server(gguf_path(), alias=ALIAS) as (base_url, _):
        backend = OpenAIBackend(ModelSpec(name=ALIAS, base_url=base_url, timeout_s=60))
        try:
            for think in ("no-think", "short-think:4", "extended:1"):
                with pytest.raises(SrlabError, match=rf"backend openai.*think budget '{think.replace(':', '-')}'.*"
                                   "continue_final_message.*llama-cpp-python"):
                    backend.generate([GenerationRequest(ADD, DECODING, think=_think(think))])
            # Without a budget the same server answers as before.
            [plain] = backend.generate([GenerationRequest(ADD, DECODING)])
            assert "5" in plain.answer
        finally:
            backend.close()


def _completion(content: str, finish: str, prompt_tokens: int, completion_tokens: int) -> Reply:
    return Reply(body={
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    })


def test_openai_backend_sends_budget_forcing_as_continued_assistant_turns() -> None:
    """The wire format a continuing server (vLLM's) is sent, from a scripted server: a probe
    pair whose prompt lengths differ, then the trace round and the forced answer round."""
    with FakeOpenAIServer() as server:
        server.replies = [
            _completion("x", "length", 20, 1), _completion("x", "length", 17, 1),  # the probe: continued is shorter
            _completion("Two and three", "length", 30, 3),  # the trace hits the budget of 3
            _completion("It is 5.", "stop", 40, 4),
        ]
        backend = OpenAIBackend(ModelSpec(name="m", base_url=server.base_url, max_concurrency=1))
        [generation] = backend.generate([GenerationRequest(ADD, DECODING, think=_think("short-think:3"))])
        bodies = [r.body for r in server.received]
    assert [b.get("continue_final_message") for b in bodies] == [None, True, True, True]
    trace_round, answer_round = bodies[2], bodies[3]
    assert trace_round["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert (trace_round["stop"], trace_round["max_tokens"], trace_round["add_generation_prompt"]) == (["</think>"], 3, False)
    assert answer_round["messages"][-1]["content"] == "<think>\nTwo and three\n</think>\n\n"
    assert "stop" not in answer_round and answer_round["max_tokens"] == DECODING.max_new_tokens - 3
    assert (generation.reasoning, generation.answer, generation.reasoning_tokens) == ("Two and three", "It is 5.", 3)
    assert (generation.completion_tokens, generation.prompt_tokens) == (7, 30)


def test_no_think_uses_the_templates_switch_where_it_has_one(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A template that reads ``enable_thinking`` (as Qwen3's does) gets it set to False; one
    that does not gets the empty trace prefilled instead (SmolLM2's own, above)."""
    import shutil

    from transformers import AutoTokenizer

    model_dir = tmp_path / "switch"
    shutil.copytree(tiny_model_dir, model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    marker = "(thinking is off)\n"
    tokenizer.chat_template += "{% if enable_thinking is defined and not enable_thinking %}" + marker + "{% endif %}"
    tokenizer.save_pretrained(model_dir)
    decoding = DecodingConfig(max_new_tokens=4)
    with_switch = HFBackend(ModelSpec(name=str(model_dir), device="cpu"))
    without = HFBackend(ModelSpec(name=str(tiny_model_dir), device="cpu"))
    try:
        plain, off = with_switch.generate([GenerationRequest(ADD, decoding), GenerationRequest(ADD, decoding, think=_think("no-think"))])
        [prefilled] = without.generate([GenerationRequest(ADD, decoding, think=_think("no-think"))])
    finally:
        with_switch.close()
        without.close()
    assert with_switch.count_tokens(marker) != with_switch.count_tokens(EMPTY_TRACE)  # the two paths differ
    assert off.prompt_tokens == plain.prompt_tokens + with_switch.count_tokens(marker)
    assert prefilled.prompt_tokens == plain.prompt_tokens + without.count_tokens(EMPTY_TRACE)
    for generation in (off, prefilled):
        assert (generation.reasoning, generation.reasoning_tokens) == ("", 0)
        assert generation.text.startswith(EMPTY_TRACE)
