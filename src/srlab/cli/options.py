"""Flags shared by several subcommands, so each spells them the same way."""

from __future__ import annotations

import argparse

from srlab.models import ModelSpec
from srlab.schema import DecodingConfig


def add_model_options(parser: argparse.ArgumentParser, flag: str = "--model", required: bool = True) -> None:
    parser.add_argument(flag, required=required, help="smollm2-135m, a HF hub id, a local folder, or a served model name")
    parser.add_argument(
        "--backend", default="auto", help="auto (openai with --base-url, else hf), or a registered backend: hf, openai, vllm, ..."
    )
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible server URL (selects the openai backend)")
    parser.add_argument(
        "--api-key-env", default=None, help="environment variable holding the API key (default: OPENAI_API_KEY)"
    )
    parser.add_argument(
        "--allow-insecure-key", action="store_true",
        help="send the API key over plain http:// to a non-loopback host (default: only https:// or loopback)",
    )
    parser.add_argument("--request-timeout", type=float, default=None, metavar="SECONDS",
                        help="deadline per HTTP request attempt, connect to last byte (default: 120)")
    parser.add_argument("--max-retries", type=int, default=None, help="retries on 429/5xx/timeouts (default: 4)")
    parser.add_argument("--max-concurrency", type=int, default=None, help="concurrent HTTP requests (default: 8)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--revision", default=None, help="hub revision to pin")


def model_spec_from_args(args: argparse.Namespace, name: str) -> ModelSpec:
    """A ModelSpec from the model flags; flags left unset keep the spec's defaults (and stay unset,
    so a backend can tell an explicit ``--api-key-env`` from the default)."""
    optional = {
        "api_key_env": args.api_key_env,
        "timeout_s": getattr(args, "request_timeout", None),
        "max_retries": getattr(args, "max_retries", None),
        "max_concurrency": getattr(args, "max_concurrency", None),
    }
    return ModelSpec(
        name=name,
        backend=args.backend,
        base_url=args.base_url,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        revision=args.revision,
        allow_insecure_key=bool(getattr(args, "allow_insecure_key", False)),
        **{k: v for k, v in optional.items() if v is not None},
    )


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--decoding-seed", type=int, default=0)


def decoding_from_args(args: argparse.Namespace) -> DecodingConfig:
    return DecodingConfig(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.decoding_seed
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="local data directory (default: $SRLAB_DATA_DIR)")
    parser.add_argument("--store", default=".srlab/store.sqlite", help="SQLite store path")


def split_names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def add_judge_param_option(parser: argparse.ArgumentParser, which: str) -> None:
    parser.add_argument("--judge-param", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a parameter of {which}, e.g. extractor=strict-match or encoder=true (repeatable)")


def judge_params_from_args(values: list[str]) -> dict[str, object]:
    """``--judge-param KEY=VALUE`` values as params; each value is read as YAML (``true``, ``0.5``)."""
    import yaml

    from srlab.errors import SrlabError

    params: dict[str, object] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise SrlabError(f"--judge-param {value!r}: expected KEY=VALUE, e.g. extractor=strict-match")
        params[key.strip()] = yaml.safe_load(raw) if raw.strip() else raw
    return params
