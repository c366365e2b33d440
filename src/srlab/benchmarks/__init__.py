"""Benchmarks in one registry. ``get_benchmark("gsm8k").load(data_dir)`` returns Samples.

Names: the builtin ones (``srlab benchmarks list``), ``rg:<task>[:key=value...]`` for any
reasoning-gym task, a path to a YAML benchmark spec, or one added with
``register_file_benchmark``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from srlab.benchmarks.base import Benchmark, select_subset
from srlab.benchmarks.builtin import BUILTIN_BENCHMARKS
from srlab.benchmarks.competition_math import MATH_BENCHMARKS
from srlab.benchmarks.custom import FileBenchmark, load_benchmark_spec, register_file_benchmark
from srlab.benchmarks.reasoning_gym_tasks import PREFIX as RG_PREFIX
from srlab.benchmarks.reasoning_gym_tasks import ReasoningGymBenchmark, parse_rg_name
from srlab.errors import UnknownNameError
from srlab.registry import Registry

# Entries are zero-argument factories: a class, or a function returning a configured instance.
BENCHMARKS: Registry[Callable[[], Benchmark]] = Registry("benchmark", group="srlab.benchmarks")

for _cls in (*BUILTIN_BENCHMARKS, *MATH_BENCHMARKS):
    BENCHMARKS.register(_cls.name, _cls)
# Lazy targets: reasoning-gym is an optional dependency and slow to import.
BENCHMARKS.register("gsm_symbolic", "srlab.benchmarks.reasoning_gym_tasks:gsm_symbolic")
BENCHMARKS.register("chain_sum_easy", "srlab.benchmarks.reasoning_gym_tasks:chain_sum_easy")
BENCHMARKS.register("humaneval", "srlab.benchmarks.humaneval:HumanEval")
BENCHMARKS.register("livecodebench", "srlab.benchmarks.livecodebench:LiveCodeBench")
LCB_PREFIX = "livecodebench:"  # options after it, parsed by srlab.benchmarks.livecodebench
BENCHMARKS.register("privacy-probes", "srlab.benchmarks.privacy:PrivacyProbes")


def get_benchmark(name: str) -> Benchmark:
    """A registered benchmark, an ``rg:<task>`` one, or one from a YAML spec file."""
    if name in BENCHMARKS:
        return BENCHMARKS.get(name)()
    if name.startswith(RG_PREFIX):
        return parse_rg_name(name)
    if name.startswith(LCB_PREFIX):
        from srlab.benchmarks.livecodebench import parse_name

        return parse_name(name)
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_benchmark_spec(name)
    raise UnknownNameError(
        "benchmark",
        name,
        [*BENCHMARKS.names(), "rg:<task>[:key=value...]", "livecodebench:key=value...", "<spec>.yaml"],
    )


__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "FileBenchmark",
    "ReasoningGymBenchmark",
    "get_benchmark",
    "load_benchmark_spec",
    "register_file_benchmark",
    "select_subset",
]
