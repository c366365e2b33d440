"""Judges in one registry. ``get_judge("refusal").judge(sample, generation)`` returns a Verdict."""

from __future__ import annotations

from typing import Any

from srlab.judge.base import Judge
from srlab.registry import Registry

JUDGES: Registry[type[Judge]] = Registry("judge", group="srlab.judges", base=Judge)
JUDGES.register("gsm8k-answer", "srlab.judge.gsm8k_answer:GSM8KAnswerJudge")
JUDGES.register("math-answer", "srlab.judge.math_answer:MathAnswerJudge")
JUDGES.register("refusal", "srlab.judge.refusal:RefusalJudge")
JUDGES.register("refusal-scorecard", "srlab.judge.refusal_scorecard:RefusalScorecardJudge")
JUDGES.register("harm", "srlab.judge.harm:HarmJudge")
JUDGES.register("llama-guard", "srlab.judge.llama_guard:LlamaGuardJudge")
JUDGES.register("strongreject-rubric", "srlab.judge.strongreject_rubric:StrongRejectRubricJudge")
JUDGES.register("harmbench-cls", "srlab.judge.harmbench_cls:HarmBenchClassifierJudge")
JUDGES.register("xstest-3class", "srlab.judge.xstest_3class:XSTest3ClassJudge")
JUDGES.register("risky-patterns", "srlab.judge.risky_patterns:RiskyPatternsJudge")
JUDGES.register("risky-patterns-offline", "srlab.judge.risky_patterns:RiskyPatternsOfflineJudge")
JUDGES.register("code-exec", "srlab.judge.code_exec:CodeExecJudge")
JUDGES.register("privacy-leak", "srlab.judge.privacy_leak:PrivacyLeakJudge")
JUDGES.register("leaked-harm", "srlab.judge.trace_findings:LeakedHarmJudge")
JUDGES.register("intent-rewrite", "srlab.judge.trace_findings:IntentRewriteJudge")
JUDGES.register("leaked-harm-llm", "srlab.judge.trace_findings:LeakedHarmLLMJudge")
JUDGES.register("intent-rewrite-llm", "srlab.judge.trace_findings:IntentRewriteLLMJudge")


def get_judge(name: str, **kwargs: Any) -> Judge:
    return JUDGES.get(name)(**kwargs)


__all__ = ["JUDGES", "Judge", "get_judge"]
