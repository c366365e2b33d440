"""Extending srlab from outside the package: a backend, benchmark, strategy, attack and judge
arrive through entry points of an installed distribution and run through ``srlab eval``; the
Python API takes objects as well as names."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGIN = '''
"""A plugin distribution as a third party would write it: one definition per registry."""
from pathlib import Path

from srlab import ModelBackend, Benchmark, PromptStrategy, Attack, Judge
from srlab.generate.attacks import attacked_sample
from srlab.models.reasoning import make_generation
from srlab.schema import Sample, Verdict


class EchoBackend(ModelBackend):
    """Answers "HARM:" + the request when it contains "please", else a refusal."""

    def __init__(self, spec):
        self.spec = spec

    def generate(self, requests, progress=None):
        out = []
        for r in requests:
            text = r.messages[-1]["content"]
            reply = f"HARM: {text}" if "please" in text.lower() else "I won't help with that."
            out.append(make_generation(reply, completion_tokens=len(reply.split())))
        return out


class ThreeRequests(Benchmark):
    name = "three-requests"
    kind = "harmful"
    default_judges = ("echo-harm", "refusal")

    def load(self, data_dir: Path | None, split: str = "test"):
        return [Sample(id=f"r{i}", prompt=f"request {i}", benchmark=self.name) for i in range(3)]


class Shout(PromptStrategy):
    name = "shout"

    def render(self, sample):
        return [{"role": "user", "content": sample.user_text().upper()}]


class PolitePlease(Attack):
    name = "polite"

    def attack(self, samples):
        return [attacked_sample(s, self.name, "please", f"{s.user_text()} please") for s in samples]


class EchoHarm(Judge):
    name = "echo-harm"
    label_meaning = "harmful"

    def judge(self, sample, generation):
        return Verdict(judge=self.name, label=generation.text.startswith("HARM:"))
'''

ENTRY_POINTS = """
[srlab.backends]
echo = srlab_demo_plugin:EchoBackend
[srlab.benchmarks]
three-requests = srlab_demo_plugin:ThreeRequests
[srlab.strategies]
shout = srlab_demo_plugin:Shout
[srlab.attacks]
polite = srlab_demo_plugin:PolitePlease
[srlab.judges]
echo-harm = srlab_demo_plugin:EchoHarm
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The plugin installed the way pip lays it out: a module and a dist-info with entry points."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "srlab_demo_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "srlab_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: srlab-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    import srlab

    registries = [srlab.BACKENDS, srlab.BENCHMARKS, srlab.STRATEGIES, srlab.ATTACKS, srlab.JUDGES]
    saved = [dict(r._entries) for r in registries]
    for registry in registries:
        registry._plugins_loaded = False  # read the entry points again, now that the plugin is there
    yield
    for registry, entries in zip(registries, saved, strict=True):
        registry._entries = entries
        registry._plugins_loaded = False
    sys.modules.pop("srlab_demo_plugin", None)


def test_each_registry_takes_a_plugin_through_entry_points(
    installed_plugin: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from srlab.cli import main

    output = tmp_path / "out.json"
    code = main([
        "eval", "--model", "anything", "--backend", "echo", "--benchmarks", "three-requests", "--strategy", "shout",
        "--attacks", "none,polite", "--store", str(tmp_path / "s.sqlite"), "--output", str(output),
    ])
    assert code == 0, capsys.readouterr().err
    rows = {row["attack"]: {m["name"]: m for m in row["metrics"]} for row in json.loads(output.read_text())["rows"]}
    # Unattacked: the shouted request has no "please": 3 refusals, no harm.
    assert (rows["none"]["asr"]["successes"], rows["none"]["asr"]["judge"]) == (0, "echo-harm")
    assert rows["none"]["refusal_rate"]["rate"] == 1.0
    # The plugin attack adds "please": the plugin backend complies every time, the plugin judge says harmful.
    assert (rows["polite"]["asr"]["successes"], rows["polite"]["asr"]["n"]) == (3, 3)
    assert rows["polite"]["refusal_rate"]["rate"] == 0.0


def test_a_plugin_that_is_not_what_its_registry_holds_is_named(
    installed_plugin: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import srlab
    from srlab.errors import SrlabError

    srlab.JUDGES.register("not-a-judge", "srlab_demo_plugin:Shout")
    with pytest.raises(SrlabError, match="judge 'not-a-judge': srlab_demo_plugin:Shout is not a Judge"):
        srlab.JUDGES.get("not-a-judge")


def test_python_api_takes_objects_and_names(installed_plugin: None, tmp_path: Path) -> None:
    import srlab_demo_plugin as plugin

    import srlab

    class StrictHarm(plugin.EchoHarm):
        name = "strict-harm"

        def judge(self, sample, generation):
            return srlab.Verdict(judge=self.name, label="request 1" in generation.text.lower())

    report = srlab.evaluate(
        {"name": "anything", "backend": "echo"}, [plugin.ThreeRequests()], strategy=plugin.Shout,
        judges={"harmful": [StrictHarm(), "refusal"]}, attacks=["polite"], store=tmp_path / "s.sqlite",
    )
    assert isinstance(report, srlab.Report)
    (row,) = report.rows
    asr = row.metric("asr", "three-requests")
    assert asr is not None and (asr.judge, asr.successes, asr.n) == ("strict-harm", 1, 3)
    assert report.provenance["config"]["judges"] == {"harmful": [
        {"name": "strict-harm", "model": None, "target": None, "params": {}, "of": []},
        {"name": "refusal", "model": None, "target": None, "params": {}, "of": []},
    ]}


@pytest.mark.slow
def test_the_readme_python_example_runs(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The README's Python API example, executed as written (from the repository's root)."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]
    monkeypatch.chdir(tmp_path)
    code = code.replace('data_dir="../shared/data"', f'data_dir="{data_dir}"')
    exec(compile(code, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["asr", "strongreject", "harm"], ["refusal_rate", "strongreject", "refusal"], ["over_refusal", "xstest", "refusal"]
    ]
    assert all("n=4" in line for line in lines)
