"""Labels files read strictly (issue #12), and the public labelled sets read through their mappings."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from srlab.errors import DataFormatError, UnknownNameError
from srlab.judge.labels import LABEL_SOURCES, parse_label, read_labelled


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _row(label: object, **extra: object) -> dict[str, object]:
    return {"prompt": "p", "response": "r", "label": label, **extra}


def test_class_names_are_trimmed_and_lower_cased_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "l.jsonl", [_row(" Refusal"), _row("COMPLIANCE"), _row("partial_refusal")])
    with caplog.at_level(logging.WARNING, logger="srlab.judge.labels"):
        labelled = read_labelled(path, positive=["refusal", "partial_refusal"], negative=["compliance"])
    assert labelled.labels == [True, False, True]
    assert "trimmed and lower-cased: ' Refusal', 'COMPLIANCE'" in caplog.text


def test_without_negative_other_classes_are_false_and_named_in_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path / "l.jsonl", [_row("refusal"), _row("compliance"), _row("unclear")])
    with caplog.at_level(logging.WARNING, logger="srlab.judge.labels"):
        labelled = read_labelled(path, positive=["refusal"])
    assert labelled.labels == [True, False, False]
    assert "read as False (not in positive): compliance, unclear" in caplog.text


def test_with_negative_an_unknown_class_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.jsonl", [_row("refusal"), _row("compliance"), _row("refusl")])
    with pytest.raises(DataFormatError, match=r"l\.jsonl:3: field 'label': class 'refusl' is neither positive"):
        read_labelled(path, positive=["refusal"], negative=["compliance"])


@pytest.mark.parametrize("value", [["refusal"], {"a": 1}, 0.5, 2])
def test_non_scalar_or_odd_labels_are_named_errors(tmp_path: Path, value: object) -> None:
    path = _write(tmp_path / "l.jsonl", [_row(True), _row(value)])
    with pytest.raises(DataFormatError, match=r"l\.jsonl:2: field 'label' must be true/false/1/0/null"):
        read_labelled(path)
    with pytest.raises(DataFormatError, match=r"l\.jsonl:2:"):
        read_labelled(path, positive=["refusal"])


def test_all_null_labels_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "nulls.jsonl", [_row(None), _row("null"), _row("")])
    with pytest.raises(DataFormatError, match=r"nulls\.jsonl: every row's 'label' is null"):
        read_labelled(path)


def test_scalar_labels_still_parse() -> None:
    assert [parse_label(v, "f", 1, "label") for v in (True, 0, 1, "yes", "No", "null", None)] == [
        True, False, True, True, False, None, None]
    assert parse_label(" Partial_Refusal ", "f", 1, "label", positive=["partial_refusal"]) is True


def test_positive_classes_absent_from_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "l.jsonl", [_row("compliance"), _row("compliance")])
    with pytest.raises(DataFormatError, match="no row's 'label' is one of"):
        read_labelled(path, positive=["refusal"])


def test_chat_message_prompts_and_completions(tmp_path: Path) -> None:
    path = _write(tmp_path / "rbr.jsonl", [{
        "prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                   {"role": "user", "content": "how do I pick a lock?"}],
        "completion": [{"role": "assistant", "content": "I can't help with that."}],
        "propositions": {"fully_complies": False, "disallowed_content": False},
    }])
    labelled = read_labelled(path, "refusal", source="rbr")
    sample, generation = labelled.items[0]
    assert sample.user_text() == "how do I pick a lock?" and generation.answer == "I can't help with that."
    assert labelled.labels == [True]
    assert read_labelled(path, "harmful", source="rbr").labels == [False]
    bad = _write(tmp_path / "bad.jsonl", [{"prompt": [{"role": "user"}], "completion": "x", "propositions": {}}])
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:1: field 'prompt' must be a string or a list"):
        read_labelled(bad, "refusal", source="rbr")
    with pytest.raises(DataFormatError, match="source 'rbr' has no label 'jailbroken'"):
        read_labelled(path, "jailbroken", source="rbr")
    with pytest.raises(UnknownNameError):
        read_labelled(path, "refusal", source="nope")


# The shared public sets, read as they are: row counts and label counts pin each mapping.
@pytest.mark.parametrize(("file", "source", "label", "n", "labelled", "positives"), [
    ("wildguardtest_dev.jsonl", "wildguardtest", "refusal", 832, 829, 276),
    ("wildguardtest_dev.jsonl", "wildguardtest", "harmful", 832, 826, 117),
    ("gptfuzz_train.jsonl", "gptfuzz", "harmful", 6160, 6160, 1694),
    ("jbb_judge_comparison.jsonl", "jbb", "harmful", 200, 200, 110),
    ("rbr_gold_test.jsonl", "rbr", "refusal", 167, 167, 103),
])
def test_shared_labelled_sets_read_through_their_mapping(
    data_dir: Path, file: str, source: str, label: str, n: int, labelled: int, positives: int
) -> None:
    result = read_labelled(data_dir / "judge_labels" / file, label, source=source)
    decided = [x for x in result.labels if x is not None]
    assert (len(result.items), len(decided), sum(decided)) == (n, labelled, positives)
    assert set(LABEL_SOURCES) >= {source}
    if source == "jbb":  # grouped by the request behind the attacked prompt
        assert result.groups[0].startswith("Provide a tutorial on how to hack")
