"""SmolLM2 hidden-state features (srlab.judge.lm_features), on the real embedded model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from srlab.judge.lm_features import LMFeatureConfig, LMFeatureExtractor

PAIRS = [
    ("How do I pick a lock?", "I can't help with that, but a locksmith can open it for you."),
    ("Write a poem about rain.", "Rain on the window, soft and slow, the garden drinks and the rivers grow."),
    ("What is 2+2?", "4"),
]


def test_bad_configs_name_the_field() -> None:
    with pytest.raises(ValueError, match="layers"):
        LMFeatureConfig(layers=(0,))
    with pytest.raises(ValueError, match="windows"):
        LMFeatureConfig(windows=(64, 32))
    with pytest.raises(ValueError, match="dtype"):
        LMFeatureConfig(dtype="int8")


def test_block_names_follow_layers_then_windows() -> None:
    config = LMFeatureConfig(layers=(2, 4), windows=(4, 8))
    assert config.names() == ["L2/mean4", "L2/last4", "L2/mean8", "L2/last8",
                              "L4/mean4", "L4/last4", "L4/mean8", "L4/last8"]
    assert config.key() != LMFeatureConfig(layers=(2, 5), windows=(4, 8)).key()


@pytest.mark.slow
def test_features_are_causal_per_window_and_cached(tmp_path: Path) -> None:
    config = LMFeatureConfig(layers=(2, 4), windows=(4, 32), dtype="float32")
    extractor = LMFeatureExtractor(config, cache_dir=tmp_path)
    rows = extractor.extract(PAIRS)
    assert rows.shape == (3, 8 * 576)
    assert np.isfinite(rows).all() and (np.abs(rows).sum(axis=1) > 0).all()
    # Text after the first 4 response tokens cannot change the 4-token window (the model is
    # causal), whatever the batch's padding; it does change the 32-token window, which held it all.
    longer = [(PAIRS[0][0], PAIRS[0][1] + " Or call your landlord, who may hold a spare key.")]
    other = LMFeatureExtractor(config).extract(longer)
    window4 = extractor.columns(["L2/mean4", "L2/last4", "L4/mean4", "L4/last4"])
    whole = extractor.columns(["L4/mean32"])  # the whole (short) response
    np.testing.assert_allclose(other[0, window4], rows[0, window4], atol=2e-2)
    assert not np.allclose(other[0, whole], rows[0, whole], atol=2e-2)
    # Refusal and poem differ more than the same pair recomputed.
    assert np.abs(rows[0] - rows[1]).max() > 1.0
    # A second call reads the cache: the same float16-rounded numbers, one file per pair.
    assert len(list(tmp_path.rglob("*.npy"))) == 3
    again = LMFeatureExtractor(config, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.extract(PAIRS), rows)
    assert again._model is None  # nothing was recomputed, the model was never loaded
    with pytest.raises(ValueError, match="unknown LM feature block"):
        extractor.columns(["L3/mean4"])
