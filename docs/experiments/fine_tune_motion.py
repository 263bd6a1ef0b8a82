"""Whether fine-tuning the top of Lite0 on frame differences helps `configs/people_rgb.yaml` on
fight-dev's new sources (docs/measurements.md, "Fine-tuning the top of Lite0"): the recipe's
frozen features against the same network with its last block and head convolution trained.

Each clip is read as the recipe reads it on scenes of several people (48 frame pairs, the
whole frame padded to 288, the amplified difference, `vidact`'s own `MotionEncoder`); Lite0's
map before its last block (192 x 9 x 9 a frame) is kept in OUT/maps.pt, so only the top runs in
training. Both arms train the same head (the map's left and right half pooled apart, each half
of the clip's mean, the spread and the mean change, standardised with the training clips'
frozen statistics, one linear layer) with AdamW for the same epochs, a batch of 8 clips; the
tuned arm also trains the top at a lower rate on 16 random frames of each clip a step.
Source-disjoint folds of scikit-learn's `StratifiedGroupKFold`, one partition a seed. Needs
scikit-learn.

    python docs/experiments/fine_tune_motion.py ../shared/data/fight-dev OUT [--partitions 3]
        [--epochs 16] [--lr 1e-5]
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from motion_regions import recipe_changes  # this folder's script (run as a script)
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

HEAD_LR, HEAD_L2, BATCH, FRAMES_A_STEP = 1e-3, 1e-2, 8, 16


def encode(root: Path, rows: list[dict[str, str]]) -> list[torch.Tensor]:
    """Each clip's (48, 192, 9, 9) float16 map before Lite0's last block."""
    encoder = MotionEncoder().eval()
    lite0 = encoder.encoder.model
    maps = []
    with torch.no_grad():
        for row in progress(rows, "encoding", unit="clips"):
            x = lite0.bn1(lite0.conv_stem(recipe_changes(encoder, root / row["path"])))
            maps.append(lite0.blocks[:6](x).half())
    return maps


class Top(nn.Module):
    """Lite0's last block, head convolution and its batch norm; the halves pooled apart."""

    def __init__(self, lite0: nn.Module) -> None:
        super().__init__()
        self.block = copy.deepcopy(lite0.blocks[6])
        self.conv = copy.deepcopy(lite0.conv_head)
        self.bn = copy.deepcopy(lite0.bn2)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:  # (N, 192, 9, 9) -> (N, 2560)
        sides = F.adaptive_avg_pool2d(self.bn(self.conv(self.block(maps))), (1, 2))
        return torch.cat([sides[..., 0, 0], sides[..., 0, 1]], dim=1)


def summary(features: torch.Tensor) -> torch.Tensor:
    """(T, D) -> (4D): each half's mean, the spread, the mean change (the recipe's head)."""
    half = len(features) // 2
    change = (features[1:] - features[:-1]).abs().mean(0)
    return torch.cat([features[:half].mean(0), features[half:].mean(0), features.std(0), change])


def fold(
    maps: list[torch.Tensor],
    labels: torch.Tensor,
    train: np.ndarray,
    test: np.ndarray,
    lite0: nn.Module,
    tune: bool,
    epochs: int,
    lr: float,
) -> int:
    """Right answers on ``test`` after training on ``train``."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    top = Top(lite0).eval()
    with torch.no_grad():
        frozen = torch.stack([summary(top(maps[i].float())) for i in train])
    mean, std = frozen.mean(0), frozen.std(0) + 1e-6
    head = nn.Linear(frozen.shape[1], int(labels.max()) + 1)
    groups = [{"params": head.parameters(), "lr": HEAD_LR, "weight_decay": 0.0}]
    if tune:
        groups.append({"params": top.parameters(), "lr": lr, "weight_decay": 0.01})
    optimizer = torch.optim.AdamW(groups)
    row_of = {int(v): k for k, v in enumerate(train)}
    for _ in range(epochs):
        order = rng.permutation(train)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            if tune:
                top.train()
                for part in top.modules():  # batch statistics of 8 clips are no statistics
                    if isinstance(part, nn.BatchNorm2d):
                        part.eval()
                picks = [np.sort(rng.choice(len(maps[i]), FRAMES_A_STEP, False)) for i in batch]
                clips = torch.stack(
                    [summary(top(maps[i][p].float())) for i, p in zip(batch, picks, strict=True)]
                )
            else:
                clips = frozen[[row_of[int(i)] for i in batch]]
            loss = F.cross_entropy(head((clips - mean) / std), labels[batch])
            loss = loss + HEAD_L2 * head.weight.pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    top.eval()
    with torch.no_grad():
        tested = torch.stack([summary(top(maps[i].float())) for i in test])
        return int((head((tested - mean) / std).argmax(1) == labels[test]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-5, help="the top's learning rate")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = list(csv.DictReader((args.root / "groups.csv").open()))
    classes = sorted({row["path"].split("/")[0] for row in rows})
    labels = torch.tensor([classes.index(row["path"].split("/")[0]) for row in rows])
    groups = np.array([row["group"] for row in rows])
    lite0 = MotionEncoder().encoder.model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "maps.pt"
    if saved.exists():
        maps = torch.load(saved)
    else:
        maps = encode(args.root, rows)
        torch.save(maps, saved)
    for seed in range(args.partitions):
        dealing = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
        splits = list(dealing.split(np.zeros(len(rows)), labels.numpy(), groups))
        for tune in (False, True):
            right = [fold(maps, labels, a, b, lite0, tune, args.epochs, args.lr) for a, b in splits]
            arm = f"top trained (lr {args.lr:g})" if tune else "frozen"
            print(
                f"partition {seed}, {arm}: {sum(right) / len(rows):.3f} (folds {right})",
                flush=True,
            )


if __name__ == "__main__":
    main()
