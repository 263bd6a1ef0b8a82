"""Which score tells "none of these" best: max softmax (what vidact ships), max logit, energy,
or distances of the head's clip embedding to the training classes (Mahalanobis, cosine)?

Each video's views are encoded and classified as `vidact predict` does (logits and head outputs
averaged over the views). Thresholds are set on the training run's validation videos (the share
of them accepted: 0.95, as training calibrates, and 0.99) and applied to the known and unknown
videos of another set; ``shuffled5``: the threshold that lets through 5% of generated unknowns
(each validation video's frames in 4 random orders: unknowns any training set can make);
``oracle5`` is the share of unknown videos held out at the threshold that rejects 5% of the
known test videos. Mahalanobis: class means and one covariance (shrunk by 0.1
of its mean variance) of the training videos' embeddings.

    vidact synth data/s7 --seed 7 && vidact synth data/s102 --seed 102
    # data/six: data/s7 without one pair of classes (folders linked, split.csv filtered)
    vidact train --data data/six --split-file data/six/split.csv --seed 0 --out runs/six0
    python docs/experiments/open_set_scores.py runs/six0/checkpoints/best.ckpt data/six data/s102

Prints one JSON line: per score the AUROC (known vs unknown test videos) and, per calibration,
[share of known test videos rejected, share of unknown ones rejected].
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vidact.data.index import VideoItem
from vidact.inference.predictor import Predictor
from vidact.io.reader import VideoReader
from vidact.models.open_set import OpenSet


def videos(root: Path, classes: list[str], split: str | None, known: bool) -> list[VideoItem]:
    """The videos of ``root/split.csv`` (one split, or all) of the model's classes, or of others."""
    found = []
    for row in csv.DictReader((root / "split.csv").open()):
        name = row["path"].split("/")[0]
        if (split is None or row["split"] == split) and (name in classes) == known:
            label = classes.index(name) if known else -1
            found.append(VideoItem(root / row["path"], row["path"], label, ""))
    return found


def outputs(
    predictor: Predictor, items: list[VideoItem], shuffles: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) logits and (N, D) head outputs, each averaged over the views of a video; with
    ``shuffles``, of that many time-shuffled copies of each video instead (its frame features
    in a seeded random order: the same frames, no activity)."""
    model, logits, embeddings = predictor.model, [], []
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for item in items:
            encoded = predictor._encoded(predictor.load_views(VideoReader(item.path))[None])[0]
            copies = (
                [encoded]
                if not shuffles
                else [
                    encoded[:, torch.randperm(encoded.shape[1], generator=generator)]
                    for _ in range(shuffles)
                ]
            )
            for features in copies:
                embedding = model.embed(features)  # (V, D)
                logits.append(model.classifier(embedding).mean(0))
                embeddings.append(embedding.mean(0))
    return torch.stack(logits).double(), torch.stack(embeddings).double()


def mahalanobis(train: torch.Tensor, labels: torch.Tensor, classes: int) -> Callable:
    """Embeddings (N, D) -> (N,) squared distance to the nearest class mean of ``train``, as
    vidact rejects by it (``models.open_set``)."""
    fitted = OpenSet.fit(train, labels, classes)
    assert fitted is not None, "every class needs training videos"
    return lambda embeddings: fitted.distance(embeddings).double().numpy()


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(a known video scores above an unknown one), ties counting half."""
    above = (known[:, None] > unknown[None]).mean()
    return float(above + 0.5 * (known[:, None] == unknown[None]).mean())


def main(checkpoint: str, train_root: Path, test_root: Path) -> None:
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    classes = list(predictor.classes)
    sets = {
        "train": videos(train_root, classes, "train", True),
        "val": videos(train_root, classes, "val", True),
        "known": videos(test_root, classes, None, True),
        "unknown": videos(test_root, classes, None, False),
    }
    logits, embeddings = {}, {}
    for name, items in sets.items():
        logits[name], embeddings[name] = outputs(predictor, items)
    # generated unknowns: each validation video's frames in 4 random orders
    logits["shuffled"], embeddings["shuffled"] = outputs(predictor, sets["val"], shuffles=4)
    labels = torch.tensor([item.label for item in sets["train"]])
    distance = mahalanobis(embeddings["train"], labels, len(classes))
    means = torch.stack([embeddings["train"][labels == k].mean(0) for k in range(len(classes))])
    unit_means = torch.nn.functional.normalize(means, dim=-1)

    def scores(name: str) -> dict[str, np.ndarray]:
        z, e = logits[name], embeddings[name]
        cosine = (torch.nn.functional.normalize(e, dim=-1) @ unit_means.T).max(-1).values
        return {
            "msp": z.softmax(-1).max(-1).values.numpy(),
            "maxlogit": z.max(-1).values.numpy(),
            "energy": torch.logsumexp(z, -1).numpy(),
            "mahalanobis": -distance(e),
            "cosine": cosine.numpy(),
        }

    by_set = {name: scores(name) for name in ("val", "known", "unknown", "shuffled")}
    right = logits["known"].argmax(-1).numpy() == np.array([i.label for i in sets["known"]])
    result: dict = {"checkpoint": checkpoint, "known_top1": round(float(right.mean()), 3)}
    result["videos"] = {name: len(items) for name, items in sets.items()}
    for score in by_set["val"]:
        val, known, unknown = (by_set[name][score] for name in ("val", "known", "unknown"))
        row: dict = {"auroc": round(auroc(known, unknown), 4)}
        for accepted in (0.95, 0.99):
            threshold = np.quantile(val, 1 - accepted)
            rejected = [(known < threshold).mean(), (unknown < threshold).mean()]
            row[f"val{accepted}"] = [round(float(share), 3) for share in rejected]
        threshold = np.quantile(by_set["shuffled"][score], 0.95)  # lets 5% of them through
        rejected = [(known < threshold).mean(), (unknown < threshold).mean()]
        row["shuffled5"] = [round(float(share), 3) for share in rejected]
        row["oracle5"] = round(float((unknown < np.quantile(known, 0.05)).mean()), 3)
        result[score] = row
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
