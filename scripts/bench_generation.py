"""Generation speed: srlab's engines against lm-evaluation-harness's HF backend, on identical prompts.

Usage:
    python scripts/bench_generation.py [--engines llamacpp,hf,lm-eval] [--prompts 64]
        [--max-new-tokens 256] [--batch-size 16] [--srlab-batch-size N] [--data-dir DIR] [--require 2.0]
        [--save PATH]

The prompts are what ``srlab eval --benchmarks gsm8k --strategy direct --limit N`` sends (the
seeded subset, seed 0, each question as one user turn) to the embedded SmolLM2-135M, decoded
greedily up to ``--max-new-tokens``. Engines:

    llamacpp       srlab's llamacpp backend, continuous batching, the GGUF dequantized to float32
    llamacpp-gguf  the same with the GGUF's own Q4_1 weights (``dtype: gguf``)
    hf             srlab's hf backend: the GGUF dequantized to float32, static batches
    hf-cb          transformers' own continuous batching (``generate_batch``), float32
    lm-eval        lm-evaluation-harness 0.4.13, ``HFLM.generate_until`` (float32) on the prompts
                   rendered by its ``apply_chat_template`` (what ``--apply_chat_template``
                   does), ``until`` left to the EOS it adds, ``max_gen_toks`` as above

Each engine runs in a fresh child process of this script, one after the other, and its time is
the child's whole wall time (interpreter start, imports, model load, generation), as a user who
runs the tool would see it. Tokens are generated tokens, an ending EOS included, counted the same
way for every engine. A text is identical when it equals lm-eval's string exactly. It exits 1 when
no srlab engine reaches ``--require`` times lm-eval's tokens/s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PEER = "lm-eval"
SRLAB_ENGINES = {  # engine -> srlab backend and dtype
    "llamacpp": ("llamacpp", "auto"),
    "llamacpp-gguf": ("llamacpp", "gguf"),
    "hf": ("hf", "auto"),
}
ENGINES = (*SRLAB_ENGINES, "hf-cb", PEER)


def prompt_messages(data_dir: str | None, count: int) -> list[list[dict[str, str]]]:
    """The chat messages ``srlab eval --benchmarks gsm8k --strategy direct --limit count`` sends."""
    from srlab.benchmarks import get_benchmark
    from srlab.experiment.cells import build_strategy, load_samples
    from srlab.generate.strategies import StrategyConfig
    from srlab.paths import data_dir as resolve_data_dir

    root = resolve_data_dir(data_dir)
    benchmark = get_benchmark("gsm8k")
    samples = load_samples(benchmark, root, count, seed=0)
    strategy = build_strategy("direct", StrategyConfig(), benchmark, root)
    return [strategy.render(s) for s in samples]


# --- workers: each runs in its own child process ------------------------------------------------


def run_srlab(backend: str, dtype: str, messages: list, args: argparse.Namespace) -> dict[str, Any]:
    from srlab.models import ModelSpec, load_backend
    from srlab.schema import DecodingConfig, GenerationRequest

    start = time.perf_counter()
    spec = ModelSpec(name="smollm2-135m", backend=backend, dtype=dtype, batch_size=args.srlab_batch_size or args.batch_size)
    engine = load_backend(spec)
    loaded = time.perf_counter()
    decoding = DecodingConfig(max_new_tokens=args.max_new_tokens)
    requests = [GenerationRequest(m, decoding) for m in messages]
    generations = engine.generate(requests)
    done = time.perf_counter()
    encode = engine.encode if backend == "llamacpp" else engine._encode  # type: ignore[attr-defined]
    return {
        "load_s": loaded - start,
        "generate_s": done - loaded,
        "texts": [g.text for g in generations],
        "tokens": [g.completion_tokens for g in generations],
        "prompt_ids": [encode(r) for r in requests],
        "identity": engine.identity(),
    }


def run_hf_cb(messages: list, args: argparse.Namespace) -> dict[str, Any]:
    """transformers' continuous batching (paged KV cache, requests refilled as rows end)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from srlab.models import smollm2

    start = time.perf_counter()
    folder = smollm2.ensure_converted()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    loaded = time.perf_counter()
    prompts = [
        list(tokenizer(tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False),
                       add_special_tokens=False)["input_ids"])
        for m in messages
    ]
    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens, do_sample=False, num_beams=1, repetition_penalty=1.0,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
    )
    # generate_batch runs its own loop (and thread) in inference mode; an outer inference_mode breaks it.
    outputs = model.generate_batch(inputs=prompts, generation_config=config, progress_bar=False)
    done = time.perf_counter()
    failed = [o.error for o in outputs.values() if o.error]
    if len(outputs) != len(prompts) or failed:
        raise RuntimeError(f"generate_batch returned {len(outputs)} of {len(prompts)} requests; errors: {failed[:3]}")
    rows = [output.generated_tokens for output in outputs.values()]  # in input order
    texts = [tokenizer.decode(r[:-1] if r and r[-1] == tokenizer.eos_token_id else r) for r in rows]
    return {
        "load_s": loaded - start,
        "generate_s": done - loaded,
        "texts": texts,
        "tokens": [len(r) for r in rows],
        "prompt_ids": prompts,
    }


def run_lm_eval(messages: list, args: argparse.Namespace) -> dict[str, Any]:
    """lm-evaluation-harness's HF backend, called through its Python API as its CLI would."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from srlab.models import smollm2

    counts: dict[tuple[int, ...], list[int]] = {}

    class CountingHFLM(HFLM):
        """HFLM that records how many tokens each row generated (its strings do not say)."""

        def _model_generate(self, context, max_length, stop, **kwargs):  # type: ignore[no-untyped-def]
            output = super()._model_generate(context, max_length, stop, **kwargs)
            eos = {self.eot_token_id, *self._eos_ids()}
            mask = kwargs.get("attention_mask")
            for row in range(output.shape[0]):
                prompt = context[row] if mask is None else context[row][mask[row].bool()]
                new = output[row, context.shape[1]:].tolist()
                end = next((i + 1 for i, token in enumerate(new) if token in eos), len(new))
                counts.setdefault(tuple(prompt.tolist()), []).append(end)
            return output

        def _eos_ids(self) -> list[int]:
            value = self.model.generation_config.eos_token_id
            return [value] if isinstance(value, int) else list(value or [])

    start = time.perf_counter()
    lm = CountingHFLM(
        pretrained=str(smollm2.ensure_converted()), device="cpu", dtype="float32", batch_size=args.batch_size
    )
    loaded = time.perf_counter()
    contexts = [lm.apply_chat_template(m) for m in messages]
    gen_kwargs = {"until": [], "max_gen_toks": args.max_new_tokens, "do_sample": False}
    requests = [
        Instance("generate_until", {}, (context, dict(gen_kwargs)), index) for index, context in enumerate(contexts)
    ]
    texts = lm.generate_until(requests, disable_tqdm=True)
    done = time.perf_counter()
    prompt_ids = [lm.tok_encode(c) for c in contexts]
    tokens = [counts[tuple(ids)].pop(0) for ids in prompt_ids]
    return {
        "load_s": loaded - start,
        "generate_s": done - loaded,
        "texts": texts,
        "tokens": tokens,
        "prompt_ids": prompt_ids,
    }


def worker(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    messages = prompt_messages(args.data_dir, args.prompts)
    if engine in SRLAB_ENGINES:
        return run_srlab(*SRLAB_ENGINES[engine], messages, args)
    if engine == "hf-cb":
        return run_hf_cb(messages, args)
    return run_lm_eval(messages, args)


# --- parent: run each engine in a child, compare ------------------------------------------------


def run_child(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        cmd = [
            sys.executable, __file__, "--worker", engine, "--result", str(result_path),
            "--prompts", str(args.prompts), "--max-new-tokens", str(args.max_new_tokens),
            "--batch-size", str(args.batch_size),
        ]
        if args.srlab_batch_size:
            cmd += ["--srlab-batch-size", str(args.srlab_batch_size)]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        start = time.perf_counter()
        completed = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - start
        if completed.returncode != 0:
            raise SystemExit(f"engine {engine} failed (exit {completed.returncode}):\n{completed.stdout[-4000:]}")
        result = json.loads(result_path.read_text(encoding="utf-8"))
    result["wall_s"] = wall
    return result


def common_prefix_share(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    same = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return same / longest


def compare(results: dict[str, dict[str, Any]], reference: str) -> dict[str, str]:
    """Per engine: identical texts, and identical prompt tokens, against ``reference``."""
    ref = results[reference]
    out = {}
    for engine, result in results.items():
        if engine == reference:
            continue
        pairs = list(zip(result["texts"], ref["texts"], strict=True))
        identical = sum(a == b for a, b in pairs)
        same_prompts = sum(a == b for a, b in zip(result["prompt_ids"], ref["prompt_ids"], strict=True))
        prefix = sum(common_prefix_share(a, b) for a, b in pairs) / len(pairs)
        out[engine] = (
            f"{identical}/{len(pairs)} texts identical to {reference}, mean common prefix {prefix:.0%}, "
            f"prompt tokens identical {same_prompts}/{len(pairs)}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="llamacpp,hf,lm-eval", help=f"comma-separated, from {', '.join(ENGINES)}")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default: $SRLAB_DATA_DIR)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16, help="for every engine")
    parser.add_argument(
        "--srlab-batch-size", type=int, default=None,
        help="srlab's engines only (the peer keeps --batch-size): requests in flight at once; greedy texts do not "
        "depend on it for llamacpp, so the comparison stays on identical work",
    )
    parser.add_argument("--require", type=float, default=2.0, help="required tokens/s of the best srlab engine / lm-eval's")
    parser.add_argument("--save", default=None, help="write every engine's texts and counts to this JSON file")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        result = worker(args.worker, args)
        Path(args.result).write_text(json.dumps(result), encoding="utf-8")
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    needs = {PEER: ("lm_eval", 'pip install -e ".[compare]"'), "llamacpp": ("llama_cpp", 'pip install "llama-cpp-python==0.3.36"')}
    for engine, (module, hint) in needs.items():
        if any(e.startswith(engine) for e in engines) and importlib.util.find_spec(module) is None:
            parser.error(f"engine {engine} needs the {module} package: {hint}")
    print(
        f"{args.prompts} GSM8K prompts (srlab eval --strategy direct), smollm2-135m, greedy, "
        f"max_new_tokens {args.max_new_tokens}, batch {args.batch_size}"
        f"{f' (srlab engines {args.srlab_batch_size})' if args.srlab_batch_size else ''}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for engine in engines:
        result = results[engine] = run_child(engine, args)
        total = sum(result["tokens"])
        result["rate"] = total / result["wall_s"]
        print(
            f"{engine:<13} {result['wall_s']:7.1f} s whole process (load {result['load_s']:5.1f} s, generate "
            f"{result['generate_s']:6.1f} s), {total:6d} tokens, {result['rate']:6.1f} tokens/s "
            f"(load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1), encoding="utf-8")
    for reference in (PEER, "hf"):
        if reference in results:
            for engine, line in compare(results, reference).items():
                if not (reference == "hf" and engine == PEER):
                    print(f"{engine:<13} {line}")
    if PEER not in results:
        return 0
    peer = results[PEER]
    ok = False
    for engine in (e for e in engines if e != PEER):
        speedup = results[engine]["rate"] / peer["rate"]
        print(
            f"{engine:<13} / {PEER}: {speedup:.2f}x tokens/s, {peer['wall_s'] / results[engine]['wall_s']:.2f}x "
            "less wall time"
        )
        ok = ok or (engine in SRLAB_ENGINES and speedup >= args.require)
    print(f"best srlab engine >= {args.require:.1f}x {PEER} tokens/s: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
