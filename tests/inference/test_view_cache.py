"""Evaluation features shared by models on one frozen encoder: the same scores, decoded once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidact.config import DataConfig
from vidact.data.datasets import ClipDataset
from vidact.evaluation.report import split_items
from vidact.inference.load import load_predictor


def test_cached_features_score_exactly_what_decoding_scores(
    trained_run: Path, synthetic_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    root = Path(synthetic_dataset.root)
    predictor = load_predictor(checkpoint, "cpu")
    data = DataConfig(root=str(root), split_file=str(root / "split.csv"))
    items = split_items(data, predictor.classes)
    reference, _, unreadable = predictor.score(items, batch_size=4)
    assert not unreadable and np.isfinite(reference).all()

    assert predictor.cache_views(tmp_path / "cache")
    first, _, _ = predictor.score(items, batch_size=4)  # decodes, keeps the features
    np.testing.assert_allclose(first, reference, rtol=1e-6, atol=1e-7)
    (namespace,) = (tmp_path / "cache" / "features").iterdir()
    entries = sorted(namespace.glob("*.npy"))
    assert len(entries) == len(items)

    decoded: list[str] = []
    load = ClipDataset.load
    monkeypatch.setattr(
        ClipDataset,
        "load",
        lambda self, item, rng: decoded.append(item.relpath) or load(self, item, rng),
    )
    other = load_predictor(checkpoint, "cpu")  # another model object, the same frozen encoder
    assert other.cache_views(tmp_path / "cache")
    again, _, _ = other.score(items, batch_size=4)
    np.testing.assert_allclose(again, reference, rtol=1e-6, atol=1e-7)
    assert decoded == []  # nothing decoded: every video's features came from the cache

    entries[0].write_bytes(entries[0].read_bytes()[:-64])  # a damaged entry is decoded again
    repaired, _, _ = other.score(items, batch_size=4)
    np.testing.assert_allclose(repaired, reference, rtol=1e-6, atol=1e-7)
    assert len(decoded) == 1


def test_only_a_frozen_encoder_shares_its_features(tmp_path: Path, trained_run: Path) -> None:
    predictor = load_predictor(trained_run / "checkpoints" / "best.ckpt", "cpu")
    predictor.model.encoder.requires_grad_(True)  # as a fine-tuned backbone would be
    assert not predictor.cache_views(tmp_path)
