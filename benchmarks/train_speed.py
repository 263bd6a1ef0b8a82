"""Training-step speed on this machine's CPU: clips/s for T = 8 frames at 112 and 224 px, with a
frozen and a trainable EfficientNet-Lite0 backbone (LSTM head), and the frozen fast path that
trains the head on cached frame features. Inputs are random tensors: this measures the model step
(forward, backward, optimiser), not loading (benchmarks/loader.py does that).

Prints one JSON line: clips/s of each setting and its ratio to the trainable backbone at 224 px,
the reference (what fine-tuning every layer costs).

    python benchmarks/train_speed.py
    python benchmarks/train_speed.py --batch-size 8 --steps 5
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vidact.config import ModelConfig
from vidact.models.classifier import ClipClassifier

FRAMES = 8


def clips_per_second(
    model: ClipClassifier, inputs: torch.Tensor, steps: int, features: bool
) -> float:
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    labels = torch.zeros(len(inputs), dtype=torch.long)
    model.train()

    def step() -> None:
        logits = model.classify_features(inputs) if features else model(inputs)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocator, kernels
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(inputs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    figures = {}
    for freeze in ("all", "none"):
        config = ModelConfig(
            backbone="tf_efficientnet_lite0", pretrained=True, head="lstm", freeze=freeze
        )
        model = ClipClassifier(config, num_classes=101)
        for size in (112, 224):
            clips = torch.randn(args.batch_size, FRAMES, 3, size, size)  # (B, T, C, H, W)
            name = f"{'frozen' if freeze == 'all' else 'trainable'}_{size}"
            figures[name] = clips_per_second(model, clips, args.steps, features=False)
    model = ClipClassifier(ModelConfig(head="lstm"), num_classes=101)
    cached = torch.randn(args.batch_size, FRAMES, model.encoder.num_features)  # (B, T, F)
    figures["cached_features"] = clips_per_second(model, cached, args.steps * 20, features=True)

    reference = figures["trainable_224"]
    result: dict[str, float | int] = {
        "frames": FRAMES,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
    }
    for name, rate in figures.items():
        result[f"{name}_clips_per_s"] = round(rate, 2)
        result[f"{name}_ratio"] = round(rate / reference, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
