"""Ordinary mistakes through the CLI: each ends in one named error line and exit code 2.

Every case runs ``srlab`` in-process (an escaping exception fails the test, as a traceback would
fail a user) and asserts the exact part of the message that tells the user what to fix.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, Reply
from llama_server import free_port

from srlab.cli import main

GOOD = """\
name: bad
models:
  - {name: served, base_url: "http://127.0.0.1:8080/v1"}
strategies: [direct]
attacks: [none]
benchmarks: {reasoning: [gsm8k]}
limits: {gsm8k: 2}
"""

# A "billion laughs": nine levels of nine aliases, ~387 million strings once expanded.
ALIAS_BOMB = GOOD.replace("attacks: [none]\n", "attacks:\n  - name: none\n    options:\n" + "".join(
    f"      l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9 if i else ["lol"] * 9) + "]\n" for i in range(9)
))


@dataclass
class Case:
    args: Callable[[Path, str], list[str]]  # (tmp folder, fake server URL) -> argv
    message: str  # must appear in the error line
    setup: Callable[[Path], None] = lambda _: None


def _write(name: str, data: str | bytes) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        path = folder / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")

    return setup


def _run_yaml(name: str) -> Callable[[Path, str], list[str]]:
    return lambda tmp, _: ["run", str(tmp / name), "--dry-run"]


def _eval(*extra: str, base_url: str | None = None, store: str = "s.sqlite") -> Callable[[Path, str], list[str]]:
    def args(tmp: Path, url: str) -> list[str]:
        return ["eval", "--model", "served", "--base-url", base_url or url, "--benchmarks", "gsm8k",
                "--strategy", "direct", "--limit", "2", "--max-retries", "0",
                "--store", str(tmp / store), "--output", str(tmp / "out.json"), *extra]

    return args


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


CASES = {
    # configs
    "yaml not UTF-8": Case(_run_yaml("x.yaml"), "x.yaml:8: not UTF-8 text (byte 166)", _write("x.yaml", GOOD.encode() + b"# \xff\xfe\n")),
    "yaml binary": Case(_run_yaml("x.yaml"), "x.yaml: invalid YAML: a NUL byte: this is a binary file, not YAML",
                        _write("x.yaml", b"\x00\x01\x02PK\x03\x04" * 50)),
    "yaml deep nesting": Case(_run_yaml("x.yaml"), "invalid YAML: nested deeper than 64 levels",
                              _write("x.yaml", GOOD + "description: " + "[" * 5000 + "]" * 5000 + "\n")),
    "yaml alias bomb": Case(_run_yaml("x.yaml"), "invalid YAML: aliases expand to more than 200000 nodes",
                            _write("x.yaml", ALIAS_BOMB)),
    "yaml duplicate key": Case(_run_yaml("x.yaml"), "x.yaml:8: invalid YAML: duplicate key 'strategies' (first at line 4)",
                               _write("x.yaml", GOOD + "strategies: [cot]\n")),
    "yaml is a folder": Case(_run_yaml("x.yaml"), "x.yaml not found (it is a directory)", _mkdir("x.yaml")),
    "yaml ftp base_url": Case(_run_yaml("x.yaml"), "models.0.base_url: Value error, 'ftp://127.0.0.1/v1' is not an http(s) URL",
                              _write("x.yaml", GOOD.replace("http://127.0.0.1:8080", "ftp://127.0.0.1"))),
    "yaml port out of range": Case(_run_yaml("x.yaml"), "port must be between 1 and 65535",
                                   _write("x.yaml", GOOD.replace(":8080", ":99999"))),
    "yaml key in url": Case(_run_yaml("x.yaml"), "credentials in the URL are not allowed",
                            _write("x.yaml", GOOD.replace("http://", "http://user:sk-leak@"))),
    # flags
    "flag ftp base_url": Case(_eval(base_url="ftp://127.0.0.1/v1"), "'ftp://127.0.0.1/v1' is not an http(s) URL"),
    "flag port 99999": Case(_eval(base_url="http://127.0.0.1:99999/v1"), "port must be between 1 and 65535"),
    "flag key in url": Case(_eval(base_url="http://u:sk-leak@127.0.0.1:9/v1"), "name it with api_key_env (--api-key-env)"),
    # stores and outputs
    "store is a folder": Case(_eval(), "store {tmp}/s.sqlite: is a directory", _mkdir("s.sqlite")),
    "store not sqlite": Case(_eval(), "store {tmp}/s.sqlite: file is not a database; this file is not an SQLite store",
                             _write("s.sqlite", "name,score\na,1\n" * 200)),
    "store under a file": Case(_eval(store="f/s.sqlite"), "store {tmp}/f/s.sqlite: {tmp}/f is a file, not a folder",
                               _write("f", "a file, not a folder")),
    "report store not sqlite": Case(lambda tmp, _: ["report", "--store", str(tmp / "s.sqlite")],
                                    "store {tmp}/s.sqlite: file is not a database", _write("s.sqlite", "x" * 5000)),
    "output is a folder": Case(_eval(), "{tmp}/out.json", _mkdir("out.json")),
    # servers
    "server refuses connections": Case(_eval(base_url="http://127.0.0.1:{free}/v1"),
                                       "failed after 1 attempt(s): cannot connect"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_a_named_error(
    name: str, tmp_path: Path, server: FakeOpenAIServer, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    case.setup(tmp_path)
    free = str(free_port())
    argv = [a.replace("{free}", free) for a in case.args(tmp_path, server.base_url)]
    code = main(argv)
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("srlab: error: ")]
    assert code == 2, err
    assert len(error_lines) == 1, err
    assert case.message.replace("{tmp}", str(tmp_path)) in err
    assert "Traceback" not in err and "sk-leak" not in err


def test_wrong_key_stops_eval_with_model_and_url(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRLAB_BAD_INPUT_KEY", "sk-bad-input-secret")
    with FakeOpenAIServer() as fake:
        fake.replies = [Reply(status=401, body={"error": {"message": "invalid key sk-bad-input-secret"}})]
        code = main(_eval("--api-key-env", "SRLAB_BAD_INPUT_KEY")(tmp_path, fake.base_url))
        err = capsys.readouterr().err
        assert len(fake.received) <= 2  # stopped at once, not one 401 per prompt
    assert code == 2
    assert (
        f"srlab: error: model 'served': POST {fake.base_url}/chat/completions returned HTTP 401: "
        "invalid key *** (check the API key in $SRLAB_BAD_INPUT_KEY)"
    ) in err
    assert "sk-bad-input-secret" not in err


def test_report_reads_a_store_without_writing_to_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srlab.store import Store

    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.start_run("r1", "eval", {}, {})
    os.chmod(path, 0o444)
    before = path.read_bytes()
    try:
        assert main(["report", "--store", str(path), "--list"]) == 0
    finally:
        os.chmod(path, 0o644)
    assert capsys.readouterr().out.split("\t")[0] == "r1"
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:  # still a healthy store
        assert conn.execute("SELECT id FROM runs").fetchall() == [("r1",)]
