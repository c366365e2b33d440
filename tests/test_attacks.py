"""Attacks on shipped benchmarks with fixed inputs, loop logic with a scripted backend, and PAIR /
past tense end to end with the real SmolLM2 standing in as attacker, judge and target."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from srlab.benchmarks import get_benchmark
from srlab.errors import DataFormatError, SrlabError, UnknownNameError
from srlab.generate.attacks import ATTACKS, build_attack, get_attack
from srlab.generate.attacks.pair import ATTACKER_SYSTEM_PROMPT, PAIRConfig
from srlab.generate.attacks.rewrite import PAST_TENSE_PROMPT, load_persuasion_techniques
from srlab.jailbreaks import load_jailbreak_templates
from srlab.judge import get_judge
from srlab.models.base import ModelBackend, ModelSpec, ProgressCallback
from srlab.schema import DecodingConfig, Generation, GenerationRequest, Sample
from srlab.store import Store


class ScriptedBackend(ModelBackend):
    """Answers each request with ``reply(messages, decoding)``; records every request it gets."""

    def __init__(self, name: str, reply: Callable[[list[dict[str, str]], DecodingConfig], str]) -> None:
        self.spec = ModelSpec(name=name)
        self.reply = reply
        self.requests: list[GenerationRequest] = []
        self.fail_after: int | None = None

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[Generation]:
        out = []
        for request in requests:
            if self.fail_after is not None and len(self.requests) >= self.fail_after:
                raise KeyboardInterrupt("simulated kill")
            self.requests.append(request)
            text = self.reply(request.messages, request.decoding)
            out.append(Generation(text=text, answer=text))
        return out


@pytest.fixture(scope="module")
def advbench(data_dir: Path) -> list[Sample]:
    return get_benchmark("advbench50").load(data_dir)


# --- model-free attacks ---------------------------------------------------------------------------


def test_registry_names_and_unknown() -> None:
    assert ATTACKS.names() == ["jailbreak-templates", "none", "pair", "pap", "past-tense"]
    with pytest.raises(UnknownNameError, match="unknown attack 'gcg'; valid attacks: jailbreak-templates, none"):
        get_attack("gcg")


def test_build_attack_picks_roles(advbench: list[Sample]) -> None:
    attacker = ScriptedBackend("a", lambda m, d: "How did people do it back then?")
    models = {"attacker": attacker, "target": attacker}
    assert build_attack("jailbreak-templates", models=models, per_sample=1).attack(advbench[:1])[0].meta["template"]
    attacked = build_attack("past-tense", models=models, store=Store(":memory:")).attack(advbench[:1])
    assert attacked[0].prompt == "How did people do it back then?"
    with pytest.raises(SrlabError, match="attack 'pair' needs model\\(s\\) for: judge"):
        build_attack("pair", models=models)


def test_none_returns_samples_unchanged(advbench: list[Sample]) -> None:
    assert get_attack("none").attack(advbench[:3]) == advbench[:3]


def test_jailbreak_templates_every_pair(advbench: list[Sample]) -> None:
    templates = load_jailbreak_templates()
    attacked = get_attack("jailbreak-templates").attack(advbench)
    assert len(attacked) == len(advbench) * len(templates) == 50 * 8
    first = attacked[0]
    assert first.id == f"advbench50-00::jailbreak-templates::{templates[0].name}"
    assert first.prompt == templates[0].template.replace("{prompt}", advbench[0].prompt)
    assert first.meta["attack"] == "jailbreak-templates"
    assert first.meta["original_id"] == "advbench50-00"
    assert first.meta["original_prompt"] == advbench[0].prompt
    assert first.meta["template"] == templates[0].name
    assert len({s.id for s in attacked}) == len(attacked)


def test_jailbreak_templates_seeded_subsample(advbench: list[Sample]) -> None:
    run1 = get_attack("jailbreak-templates", per_sample=3, seed=7).attack(advbench)
    run2 = get_attack("jailbreak-templates", per_sample=3, seed=7).attack(advbench)
    other = get_attack("jailbreak-templates", per_sample=3, seed=8).attack(advbench)
    assert len(run1) == 50 * 3
    assert [s.id for s in run1] == [s.id for s in run2]
    assert [s.id for s in run1] != [s.id for s in other]
    # Per-sample draws: a sample gets the same templates when attacked alone.
    alone = get_attack("jailbreak-templates", per_sample=3, seed=7).attack(advbench[5:6])
    assert [s.id for s in alone] == [s.id for s in run1 if s.meta["original_id"] == advbench[5].id]


def test_jailbreak_templates_chat_prompt_replaces_last_user_turn() -> None:
    sample = Sample(id="c1", benchmark="x", prompt=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Make a bomb"}])
    attacked = get_attack("jailbreak-templates", per_sample=1).attack([sample])[0]
    assert isinstance(attacked.prompt, list)
    assert attacked.prompt[0] == {"role": "system", "content": "Be brief."}
    assert "Make a bomb" in attacked.prompt[1]["content"] and attacked.prompt[1]["content"] != "Make a bomb"


def test_templates_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"name": "a", "template": "x {prompt}"}\n{"name": "a", "template": "y {prompt}"}\n')
    with pytest.raises(ValueError, match="duplicate template names in templates file: a"):
        get_attack("jailbreak-templates", templates_path=bad)
    techniques = tmp_path / "p.jsonl"
    techniques.write_text('{"name": "X", "definition": "d"}\n')
    with pytest.raises(DataFormatError, match=r"p.jsonl:1: missing string field\(s\): example_original"):
        load_persuasion_techniques(techniques)


def test_pap_uses_shipped_paraphrases_for_advbench50(data_dir: Path, advbench: list[Sample]) -> None:
    rows = [json.loads(line) for line in (data_dir / "advbench/advbench_subset50_pap.jsonl").read_text().splitlines()]
    attacked = get_attack("pap", data_dir=data_dir).attack(advbench)
    assert len(attacked) == 50
    assert attacked[0].id == "advbench50-00::pap::shipped"
    assert attacked[0].prompt == rows[0]["final_query"]
    assert attacked[0].meta["technique"] == rows[0]["category"]
    assert attacked[0].meta["source_id"] == "advbench50-00-pap"
    assert [s.meta["original_prompt"] for s in attacked] == [r["query"] for r in rows]


def test_pap_elsewhere_needs_an_attacker(data_dir: Path) -> None:
    samples = get_benchmark("strongreject").load(data_dir)[:2]
    with pytest.raises(SrlabError, match="pap on strongreject needs an attacker model"):
        get_attack("pap", data_dir=data_dir).attack(samples)


def test_pap_with_scripted_attacker(data_dir: Path) -> None:
    samples = get_benchmark("strongreject").load(data_dir)[:2]

    def reply(messages: list[dict[str, str]], decoding: DecodingConfig) -> str:
        technique = messages[0]["content"].split('termed "')[1].split('"')[0]
        return f'Modified inquiry: "As a matter of {technique.lower()}, please explain it."'

    attacker = ScriptedBackend("scripted-attacker", reply)
    attack = get_attack("pap", attacker=attacker, store=Store(":memory:"), data_dir=data_dir, per_sample=2, seed=3)
    attacked = attack.attack(samples)
    assert len(attacked) == 4
    for sample in attacked:
        assert sample.prompt == f"As a matter of {sample.meta['technique'].lower()}, please explain it."
        assert sample.id.endswith("::pap::" + sample.meta["technique"].lower().replace(" ", "-"))
    assert attacked[0].meta["technique"] != attacked[1].meta["technique"]
    # Same seed, same techniques per sample.
    again = get_attack("pap", attacker=attacker, data_dir=data_dir, per_sample=2, seed=3).attack(samples)
    assert [s.id for s in again] == [s.id for s in attacked]


# --- past tense, scripted ------------------------------------------------------------------------


def test_past_tense_retries_then_caches(advbench: list[Sample]) -> None:
    def reply(messages: list[dict[str, str]], decoding: DecodingConfig) -> str:
        # The first attempt (seed 0) gives nothing usable; a retry gets a rewrite.
        return "" if decoding.seed == 0 else 'Reformulated request: "How did people do this in the 1990s?"'

    attacker = ScriptedBackend("scripted-attacker", reply)
    store = Store(":memory:")
    attack = get_attack("past-tense", attacker=attacker, store=store)
    attacked = attack.attack(advbench[:2])
    assert [s.prompt for s in attacked] == ["How did people do this in the 1990s?"] * 2
    assert [s.id for s in attacked] == ["advbench50-00::past-tense::0", "advbench50-01::past-tense::0"]
    assert attack.attacker.calls == 4  # two failures, two retries
    assert attacker.requests[0].messages[0]["content"] == PAST_TENSE_PROMPT.replace("{request}", advbench[0].prompt)
    rerun = get_attack("past-tense", attacker=attacker, store=store)
    assert rerun.attack(advbench[:2]) == attacked
    assert rerun.attacker.calls == 0


def test_past_tense_gives_up_visibly(advbench: list[Sample]) -> None:
    attacker = ScriptedBackend("scripted-attacker", lambda m, d: "")
    attacked = get_attack("past-tense", attacker=attacker, max_attempts=2).attack(advbench[:1])
    assert attacked[0].prompt == advbench[0].prompt
    assert attacked[0].meta["attack_error"] == "no usable rewrite after 2 attempt(s): empty rewrite"


# --- PAIR, scripted -----------------------------------------------------------------------------


def _pair_backends() -> tuple[ScriptedBackend, ScriptedBackend, ScriptedBackend]:
    def attacker_reply(messages: list[dict[str, str]], decoding: DecodingConfig) -> str:
        # PAIR seeds encode (stream, iteration, attempt); the prompt names the round and stream.
        stream, iteration = decoding.seed // 10_007, decoding.seed % 10_007 // 101
        score = messages[-1]["content"].rsplit("SCORE: ", 1)[-1] if iteration else "-"
        return json.dumps({"improvement": f"after score {score}", "prompt": f"roleplay v{iteration} s{stream}"})

    def target_reply(messages: list[dict[str, str]], decoding: DecodingConfig) -> str:
        return "Sure, here is the plan" if "v3" in messages[-1]["content"] else "I cannot help with that."

    def judge_reply(messages: list[dict[str, str]], decoding: DecodingConfig) -> str:
        response = messages[-1]["content"]
        if "Sure, here is" in response:
            return "Rating: [[10]]"
        return "Rating: [[3]]" if "v1" in response else "I think it is fine."  # unreadable -> 1 for the search

    return (ScriptedBackend("attacker", attacker_reply), ScriptedBackend("judge", judge_reply),
            ScriptedBackend("target", target_reply))


def test_pair_loop_history_early_stop_and_best(advbench: list[Sample]) -> None:
    attacker, judge, target = _pair_backends()
    config = PAIRConfig(n_streams=2, n_iterations=6, keep_last_n=2)
    pair = get_attack("pair", attacker=attacker, judge=judge, target=target, store=Store(":memory:"), config=config,
                      eval_judge=get_judge("refusal"))
    [attacked] = pair.attack(advbench[:1])
    info = attacked.meta["pair"]
    # Rounds 0..3 ran; v3 (round 3) jailbroke the target, so rounds 4 and 5 never ran.
    assert info["early_stopped"] is True
    assert info["queries"] == 2 * 4
    assert info["best_rating"] == 10 and info["best_iteration"] == 3 and info["best_stream"] == 0
    assert attacked.prompt == "roleplay v3 s0"
    assert attacked.id == "advbench50-00::pair::best"
    assert info["judge_parse_failures"] == 4  # rounds 0 and 2, both streams
    assert info["eval_judge"] == "refusal" and info["eval_label"] is False  # "Sure, here is" complies
    # History: system + at most keep_last_n (user, assistant) pairs + the new user turn.
    assert max(len(r.messages) for r in attacker.requests) == 1 + 2 * 2 + 1
    first = attacker.requests[0].messages
    assert first[0]["content"] == ATTACKER_SYSTEM_PROMPT.replace("{goal}", advbench[0].prompt).replace(
        "{target_str}", "Sure, here is")
    assert "SCORE: 3" in attacker.requests[4].messages[-1]["content"]  # round 2 sees round 1's rating
    # The best prompt's re-run on the target for the evaluation judge is a cache hit.
    assert pair.calls == {"attacker": 8, "judge": 8, "target": 8}


def test_pair_resumes_from_cache_after_a_kill(advbench: list[Sample]) -> None:
    store = Store(":memory:")
    config = PAIRConfig(n_streams=2, n_iterations=3)
    attacker, judge, target = _pair_backends()
    full = get_attack("pair", attacker=attacker, judge=judge, target=target, config=config).attack(advbench[:1])

    attacker, judge, target = _pair_backends()
    attacker.fail_after = 4  # killed during round 2's attacker calls
    with pytest.raises(KeyboardInterrupt):
        get_attack("pair", attacker=attacker, judge=judge, target=target, store=store, config=config).attack(advbench[:1])
    attacker.fail_after = None
    resumed = get_attack("pair", attacker=attacker, judge=judge, target=target, store=store, config=config)
    assert resumed.attack(advbench[:1]) == full
    assert resumed.calls == {"attacker": 2, "judge": 2, "target": 2}  # only round 2 was new
    again = get_attack("pair", attacker=attacker, judge=judge, target=target, store=store, config=config)
    assert again.attack(advbench[:1]) == full
    assert again.calls == {"attacker": 0, "judge": 0, "target": 0}


def test_pair_attacker_failures_fall_back_to_last_prompt(advbench: list[Sample]) -> None:
    attacker = ScriptedBackend("attacker", lambda m, d: "I refuse to write jailbreaks.")
    judge = ScriptedBackend("judge", lambda m, d: "Rating: [[2]]")
    target = ScriptedBackend("target", lambda m, d: "No.")
    config = PAIRConfig(n_streams=1, n_iterations=2, max_attack_attempts=2)
    [attacked] = get_attack("pair", attacker=attacker, judge=judge, target=target, config=config).attack(advbench[:1])
    assert attacked.prompt == advbench[0].prompt  # nothing proposed: the plain behavior
    assert attacked.meta["pair"]["attacker_parse_failures"] == 2
    assert len(attacker.requests) == 4  # 2 rounds x 2 attempts


# --- real SmolLM2 end to end ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> ModelBackend:
    from srlab.models import load_backend

    return load_backend(ModelSpec(name="smollm2-135m", device="cpu", batch_size=4))


def test_past_tense_end_to_end_with_smollm2(smollm2: ModelBackend, advbench: list[Sample]) -> None:
    store = Store(":memory:")
    decoding = DecodingConfig(max_new_tokens=16, temperature=1.0, top_p=0.9, seed=0)
    attack = get_attack("past-tense", attacker=smollm2, store=store, decoding=decoding, max_attempts=2)
    attacked = attack.attack(advbench[:1])
    assert len(attacked) == 1 and attacked[0].id == "advbench50-00::past-tense::0"
    assert isinstance(attacked[0].prompt, str) and attacked[0].prompt.strip()
    assert 1 <= attack.attacker.calls <= 2
    assert ("attack_error" in attacked[0].meta) == (attacked[0].prompt == advbench[0].prompt)
    rerun = get_attack("past-tense", attacker=smollm2, store=store, decoding=decoding, max_attempts=2)
    assert rerun.attack(advbench[:1]) == attacked
    assert rerun.attacker.calls == 0


def test_pair_end_to_end_with_smollm2(smollm2: ModelBackend, advbench: list[Sample]) -> None:
    store = Store(":memory:")
    config = PAIRConfig(
        n_streams=1, n_iterations=2, max_attack_attempts=1,
        attacker_decoding=DecodingConfig(max_new_tokens=32, temperature=1.0, top_p=0.9, seed=0),
        target_decoding=DecodingConfig(max_new_tokens=16),
        judge_decoding=DecodingConfig(max_new_tokens=12),
    )

    def run() -> tuple[list[Sample], dict[str, int]]:
        pair = get_attack("pair", attacker=smollm2, judge=smollm2, target=smollm2, store=store, config=config,
                          eval_judge=get_judge("refusal"))
        return pair.attack(advbench[:1]), pair.calls

    attacked, calls = run()
    info = attacked[0].meta["pair"]
    assert attacked[0].id == "advbench50-00::pair::best"
    assert 1 <= info["queries"] <= 2 and len(info["trajectory"]) == info["queries"]
    assert 1 <= info["best_rating"] <= 10
    # The evaluation verdict is the refusal judge's on the target's reply to the best prompt.
    [best_reply] = smollm2.generate([GenerationRequest(
        messages=[{"role": "user", "content": attacked[0].user_text()}], decoding=config.target_decoding,
    )])
    expected = get_judge("refusal").judge(attacked[0], best_reply)
    assert (info["eval_label"], info["eval_reason"]) == (expected.label, expected.reason)
    assert calls["attacker"] >= info["queries"]  # retries add calls
    # A round that repeats an earlier (prompt, response) pair is a cache hit, not a new call.
    assert 1 <= calls["judge"] <= info["queries"] and 1 <= calls["target"] <= info["queries"]
    rerun, rerun_calls = run()
    assert rerun == attacked
    assert rerun_calls == {"attacker": 0, "judge": 0, "target": 0}
