"""The annotated video: the input with its activity drawn on every frame.

Each frame shows the label and probability of the window that speaks for it, a small bar chart of
the top three, and a strip along the bottom coloured by the timeline's segments with a playhead;
a pose model's video also shows the skeleton MediaPipe tracks (what the model sees). The output
is H.264 MP4 (yuv420p, which browsers play) with the input's frame count, rate and size (an odd
width or height gains one pixel, as 4:2:0 needs); audio is not copied. Sizes of text and bars
follow the frame height, so labels stay legible from 320x240 to 1920x1080. Pillow draws with its
bundled scalable font; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidact.data.bodies import PersonFinder
from vidact.inference.timeline import WindowScores
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.models.pose import skeleton_edges

# tab10, as the plots use: one colour per class, cycling
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip
UNKNOWN_RGBA = (160, 160, 160, 240)  # the "none of these" segments


class Overlay:
    """Draws a frame's activity: the top label and probability, and the top three as bars, on one
    dark panel; optionally a timeline strip along the bottom with a playhead."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes = list(classes)
        self.fonts: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}
        self.edges: list[tuple[int, int]] | None = None  # the skeleton's, when one is drawn

    def draw(
        self,
        frame: np.ndarray,
        probabilities: np.ndarray,
        strip: Sequence[tuple[float, float, str]] = (),
        playhead: float | None = None,
        skeleton: np.ndarray | None = None,
        label: str | None = None,
    ) -> np.ndarray:
        """``frame`` (H, W, 3) with the overlay; ``strip`` holds (start, end, label) as fractions
        of the width, ``playhead`` the fraction where the frame sits, ``skeleton`` (33, 4) pose
        landmarks (x, y as fractions of the image, z, visibility) to draw as bones, ``label``
        the title (the timeline's segment; by default the top class)."""
        image = Image.fromarray(frame)
        height, width = frame.shape[:2]
        unit = max(height // 24, 8)
        text = max(unit * 3 // 4, 10)  # the bars' names: no smaller than 10 px (240 lines)
        font, small = self._font(unit), self._font(text)
        draw = ImageDraw.Draw(image, "RGBA")
        if skeleton is not None:
            self._bones(draw, skeleton, width, height, max(unit // 6, 2))
        order = [int(i) for i in np.argsort(probabilities)[::-1][:3]]
        margin, bar = unit // 2, width // 8
        if label is None or label in self.classes:
            shown = order[0] if label is None else self.classes.index(label)
            title = f"{self.classes[shown]}  {probabilities[shown]:.2f}"
        else:
            title = label  # unknown: the rejection rule named no class
        rows = [f"{self.classes[i]}  {probabilities[i]:.2f}" for i in order]
        title_box = draw.textbbox((0, 0), title, font=font)
        row_width = max(draw.textbbox((0, 0), row, font=small)[2] for row in rows)
        line = max(unit, text + 3)
        panel = (
            0,
            0,
            2 * margin + max(title_box[2], bar + margin + row_width),
            2 * margin + title_box[3] + len(rows) * line,
        )
        draw.rectangle(panel, fill=(0, 0, 0, 150))  # one dark panel: legible on any picture
        draw.text((margin, margin), title, fill=(255, 255, 255), font=font)
        for rank, label in enumerate(order):  # the top three as bars, each with its name
            y = margin + title_box[3] + unit // 4 + rank * line
            filled = max(1, int(bar * float(probabilities[label])))
            draw.rectangle((margin, y, margin + bar, y + unit * 3 // 4), fill=(90, 90, 90, 200))
            draw.rectangle((margin, y, margin + filled, y + unit * 3 // 4), fill=self.colour(label))
            draw.text((2 * margin + bar, y), rows[rank], fill=(255, 255, 255), font=small)
        top = height - unit
        for start, end, part in strip:
            colour = self.colour(self.classes.index(part)) if part in self.classes else UNKNOWN_RGBA
            draw.rectangle((int(start * width), top, int(end * width), height), fill=colour)
        if playhead is not None:
            x = int(playhead * width)
            draw.rectangle((x - 1, top - unit // 3, x + 1, height), fill="white")
        return np.asarray(image)

    def _font(self, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        """Pillow's bundled scalable font at ``size`` pixels, made once per size."""
        return self.fonts.get(size) or self.fonts.setdefault(size, ImageFont.load_default(size))

    def _bones(
        self, draw: ImageDraw.ImageDraw, points: np.ndarray, width: int, height: int, thick: int
    ) -> None:
        if self.edges is None:
            self.edges = skeleton_edges()
        xy = points[:, :2] * (width, height)
        seen = points[:, 3] > 0.5
        for a, b in self.edges:
            if seen[a] and seen[b]:
                draw.line([tuple(xy[a]), tuple(xy[b])], fill=(0, 255, 120, 230), width=thick)
        for x, y in xy[seen]:
            draw.ellipse((x - thick, y - thick, x + thick, y + thick), fill=(255, 255, 255, 230))

    @staticmethod
    def colour(label: int) -> tuple[int, int, int, int]:
        return (*PALETTE[label % len(PALETTE)], 240)


def annotated_frames(
    frames: Iterator[np.ndarray],
    scan: WindowScores,
    classes: Sequence[str],
    skeleton: bool = False,
) -> Iterator[np.ndarray]:
    """Draw the overlay and the timeline strip with its playhead on each frame, in order, and
    with ``skeleton`` the pose MediaPipe tracks through the frames."""
    owner = scan.per_frame()
    duration = scan.num_frames / scan.fps
    segments = scan.segments(classes)
    strip = [
        (part["start_s"] / duration, part["end_s"] / duration, part["label"]) for part in segments
    ]
    ends = np.array([part["end_s"] for part in segments])
    times = (np.arange(scan.num_frames) + 0.5) / scan.fps
    segment_of = np.minimum(np.searchsorted(ends, times, "right"), len(segments) - 1)
    scores = scan.smoothed()
    overlay = Overlay(classes)
    with contextlib.ExitStack() as stack:
        # every frame in order, drawn: the filter steadies the skeleton a viewer sees
        track = stack.enter_context(PersonFinder(smooth=True)) if skeleton else None
        for index, frame in enumerate(frames):
            playhead = (index + 0.5) / scan.num_frames
            points = track(frame) if track is not None else None
            label = segments[segment_of[index]]["label"]
            yield overlay.draw(frame, scores[owner[index]], strip, playhead, points, label)


OUTPUTS = (".mp4", ".png")


def write_annotated(
    video: str | Path,
    output: str | Path,
    scan: WindowScores,
    classes: Sequence[str],
    allow_images: bool = False,
    skeleton: bool = False,
) -> Path:
    """Decode ``video`` frame by frame, draw the overlay, encode H.264 to ``output``."""
    with VideoReader(video, allow_images) as reader:
        frames = (frame for _, frame in reader.frames(range(reader.num_frames)))
        drawn = annotated_frames(frames, scan, classes, skeleton)
        return write_video(output, drawn, reader.fps)
