"""Contract 1: a checkpoint alone rebuilds the model that wrote it, and predicts as it did."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidact.config import DataConfig, ModelConfig, TrainConfig
from vidact.data.transforms import eval_transform
from vidact.inference.predictor import Predictor
from vidact.io.reader import VideoReader
from vidact.training.module import ClipClassifierModule

CLASSES = ("jump", "run", "walk")


def _save(module: ClipClassifierModule, path: Path) -> Path:
    checkpoint = {"state_dict": module.state_dict(), "epoch": 0}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("head", ["gru", "transformer", "mean"])
def test_checkpoint_round_trip_predicts_as_the_model_did(tmp_path: Path, make_video, head) -> None:
    config = TrainConfig(
        data=DataConfig(frames=4, size=32),
        model=ModelConfig(backbone="test_efficientnet", pretrained=False, head=head),
    )
    torch.manual_seed(0)
    module = ClipClassifierModule(config, CLASSES).eval()
    predictor = Predictor.from_checkpoint(_save(module, tmp_path / "m.ckpt"), "cpu")
    assert predictor.classes == CLASSES
    assert predictor.info.sampling.frames == 4 and predictor.info.input.size == 32

    video = make_video("v.mp4", frames=20, height=40, width=56)
    with VideoReader(video) as reader:
        positions = predictor.info.sampling.indices(reader.num_frames, reader.fps)
        frames = reader.read(positions, short_side=module.spec.short_side)
    with torch.inference_mode():
        expected = module(eval_transform(module.spec)(frames)[None]).softmax(-1)[0]
    result = predictor.predict(video, topk=3)
    assert [entry["label"] for entry in result["top_k"]] == [
        CLASSES[i] for i in expected.argsort(descending=True)
    ]
    for entry in result["top_k"]:
        assert entry["probability"] == pytest.approx(
            float(expected[CLASSES.index(entry["label"])]), abs=1e-5
        )
    assert result["video"] == str(video)


def test_python_api_loads_once_and_predicts(trained_run: Path, synthetic_dataset) -> None:
    import vidact
    from vidact.inference.timeline import TimelineSettings

    model = vidact.load(str(trained_run / "checkpoints" / "best.ckpt"), device="cpu")
    video = synthetic_dataset.subset("test")[0].path
    result = model.predict(video, topk=2)
    answers = (*model.classes, "unknown")  # a model of two epochs may be unsure of anything
    assert len(result["top_k"]) == 2 and result["timeline"][0]["label"] in answers
    parts = model.timeline(video, TimelineSettings("4", "2"))
    assert parts[0]["start_s"] == 0 and all(p["label"] in answers for p in parts)
    sure = vidact.load(str(trained_run / "checkpoints" / "best.ckpt"), "cpu", reject="off")
    assert sure.predict(video, topk=2)["label"] == result["top_k"][0]["label"]
