"""The SQLite store: content keys, idempotent writes, verdict round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from srlab.schema import DecodingConfig, Generation, GenerationRequest, Sample, Verdict
from srlab.store import RunItem, Store, generation_key, sample_key

MODEL = {"name": "m", "revision": None}


def _request(text: str, max_new_tokens: int = 16) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": text}], DecodingConfig(max_new_tokens=max_new_tokens))


def test_generation_key_depends_on_model_decoding_and_prompt() -> None:
    base = generation_key(MODEL, _request("hi"))
    assert base == generation_key(dict(MODEL), _request("hi"))
    assert base != generation_key({"name": "other", "revision": None}, _request("hi"))
    assert base != generation_key(MODEL, _request("hi", max_new_tokens=17))
    assert base != generation_key(MODEL, _request("hi!"))


def test_generations_round_trip_and_are_never_duplicated(tmp_path: Path) -> None:
    gen = Generation(text="<think>a</think>b", answer="b", reasoning="a", prompt_tokens=3, completion_tokens=4, truncated=True)
    with Store(tmp_path / "s.sqlite") as store:
        key = generation_key(MODEL, _request("q"))
        store.put_generations([(key, MODEL, _request("q"), gen)])
        # A second write of the same key (a resumed run) must not add or replace a row.
        store.put_generations([(key, MODEL, _request("q"), Generation(text="other", answer="other"))])
        assert store.count("generations") == 1
        assert store.get_generations([key, "missing"]) == {key: gen}
    with Store(tmp_path / "s.sqlite") as reopened:
        assert reopened.get_generations([key])[key].truncated is True


def test_verdicts_keep_undecided_state_and_reason() -> None:
    sample = Sample(id="1", prompt="p", benchmark="b", reference="4")
    undecided = Verdict(judge="gsm8k-answer", label=None, reason="no number in answer", details={"extracted": None})
    decided = Verdict(judge="gsm8k-answer", label=True, details={"extracted": "4"})
    with Store(":memory:") as store:
        s_key = sample_key(sample)
        store.put_verdicts([("g1", s_key, "1", undecided), ("g2", s_key, "1", decided)])
        found = store.get_verdicts([("g1", s_key), ("g2", s_key)], "gsm8k-answer", "1")
        assert found[("g1", s_key, "full")] == undecided
        assert found[("g2", s_key, "full")] == decided
        # Another judge version does not see these verdicts: a changed judge is re-run.
        assert store.get_verdicts([("g1", s_key)], "gsm8k-answer", "2") == {}


def test_undecided_verdict_requires_a_reason() -> None:
    with pytest.raises(ValueError, match="without a reason"):
        Verdict(judge="refusal", label=None)


def test_runs_and_items(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.start_run("r1", "eval", {"a": 1}, {"git_revision": "x"})
        item = RunItem("r1", "gsm8k", "s1", "sk", "base", "cot", "none", "g1")
        store.put_run_items([item, item])
        store.finish_run("r1", {"ok": True})
        assert store.run_items("r1") == [item]
        run = store.get_run("r1")
        assert run is not None and run["status"] == "finished" and run["result"] == {"ok": True}
        store.start_run("r1", "eval", {"a": 1}, {"git_revision": "y"})
        assert store.get_run("r1")["status"] == "running"
        assert store.run_items("r1") == [item]


def test_failed_generation_is_stored_and_replaced_by_a_success_never_the_reverse(tmp_path: Path) -> None:
    key = generation_key(MODEL, _request("q"))
    failed = Generation(text="", answer="", finish_reason="error", error="HTTP 400: content filter")
    ok = Generation(text="fine", answer="fine", finish_reason="stop")
    with Store(tmp_path / "s.sqlite") as store:
        store.put_generations([(key, MODEL, _request("q"), failed)])
        assert store.get_generations([key]) == {key: failed}
        store.put_generations([(key, MODEL, _request("q"), ok)])
        store.put_generations([(key, MODEL, _request("q"), failed)])  # a later failure keeps the success
        assert store.get_generations([key]) == {key: ok}
        assert store.count("generations") == 1


def test_store_made_before_the_error_column_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # the generations table as older versions made it
        conn.execute(
            "CREATE TABLE generations (key TEXT PRIMARY KEY, model TEXT NOT NULL, request TEXT NOT NULL, "
            "text TEXT NOT NULL, answer TEXT NOT NULL, reasoning TEXT, prompt_tokens INTEGER, "
            "completion_tokens INTEGER, truncated INTEGER NOT NULL, finish_reason TEXT, created REAL NOT NULL)"
        )
        conn.execute("INSERT INTO generations VALUES ('k','{}','{}','t','a',NULL,1,2,0,'stop',0)")
    with Store(path) as store:
        assert store.get_generations(["k"]) == {"k": Generation("t", "a", None, 1, 2, False, "stop", None)}
        store.put_generations([("k2", MODEL, _request("q"), Generation("", "", error="boom"))])
        assert store.get_generations(["k2"])["k2"].error == "boom"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b"this is not sqlite at all, just bytes" * 100), "not an SQLite store"),
    ],
)
def test_bad_store_path_is_a_named_error(tmp_path: Path, make: object, message: str) -> None:
    from srlab.store import StoreError

    path = tmp_path / "store.sqlite"
    make(path)  # type: ignore[operator]
    with pytest.raises(StoreError, match=message) as info:
        Store(path)
    assert str(info.value).startswith(f"store {path}: ")


def test_read_only_store_opens_for_reading_without_writing(tmp_path: Path) -> None:
    from srlab.store import StoreError

    folder = tmp_path / "media"
    folder.mkdir()
    path = folder / "s.sqlite"
    with Store(path) as store:
        store.start_run("r1", "eval", {"a": 1}, {})
    before = path.read_bytes()
    with Store(path, read_only=True) as store:
        assert [r["id"] for r in store.list_runs()] == ["r1"]
        with pytest.raises(StoreError, match="readonly database; the file or its folder is not writable"):
            store.start_run("r2", "eval", {}, {})
    assert path.read_bytes() == before


def test_store_on_read_only_media_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    import srlab.store
    from srlab.store import StoreError

    path = tmp_path / "s.sqlite"
    Store(path).close()
    # Root ignores file permissions, so read-only media is simulated by opening the file read-only.
    real_connect = sqlite3.connect
    monkeypatch.setattr(
        srlab.store.sqlite3, "connect",
        lambda p, **kw: real_connect(f"{Path(p).resolve().as_uri()}?mode=ro", uri=True, **kw),
    )
    with Store(path) as store, pytest.raises(StoreError, match="not writable") as info:
        store.put_generations([("k", MODEL, _request("q"), Generation("t", "t"))])
    assert str(info.value).startswith(f"store {path}: attempt to write a readonly database")


def test_read_only_store_that_is_not_a_store_is_a_named_error(tmp_path: Path) -> None:
    import sqlite3

    from srlab.store import StoreError

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an srlab store"):
        Store(path, read_only=True)
