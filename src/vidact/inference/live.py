"""Live prediction: a rolling window over the newest frames of a stream, scored at every stride.

A feeder thread decodes the source (a file played at its own rate, an RTSP/HTTP URL, or a camera
device such as /dev/video0; PyAV opens all three) into a ring buffer that holds one window of
frames. The main loop scores the newest window each time a stride of new frames has come in.
When the model is slower than the source, the windows that fell due meanwhile are skipped and
the frames no scored window covered are counted as dropped: the output stays with the source
instead of falling behind it. An optional recording writes every frame with the latest label.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidact.errors import VidactError
from vidact.inference.annotate import Overlay
from vidact.inference.events import is_sure
from vidact.inference.predictor import VideoPredictor
from vidact.inference.timeline import TimelineSettings, smooth
from vidact.io.outputs import replacing
from vidact.io.reader import VideoReadError, upright
from vidact.io.writer import NoFrames, write_video

_DEFAULT_FPS = 30.0  # when a live source does not say its rate


def is_live(source: str) -> bool:
    return source.startswith("/dev/") or "://" in source


def open_source(source: str) -> av.container.InputContainer:
    """Open a file, URL or camera device, or raise a VideoReadError saying why not."""
    if not is_live(source) and not Path(source).is_file():
        raise VideoReadError(source, "no such file (give a video file, a URL or /dev/videoN)")
    options: dict[str, str] = {}
    if source.startswith("rtsp://"):
        options["rtsp_transport"] = "tcp"  # UDP loses packets through most networks
    try:
        container = av.open(
            source,
            format="v4l2" if source.startswith("/dev/video") else None,
            options=options,
            timeout=10.0,
        )
    except (av.FFmpegError, OSError) as err:
        raise VideoReadError(source, f"cannot be opened ({err})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(source, "has no video stream")
    return container


@dataclass
class WatchReport:
    frames: int = 0  # frames the source delivered
    windows: int = 0  # windows scored
    skipped: int = 0  # windows that fell due while the model was busy
    covered: int = 0  # frames inside at least one scored window
    seconds: float = 0.0  # wall-clock time watched
    interrupted: bool = False

    @property
    def dropped(self) -> int:
        return self.frames - self.covered

    def summary(self) -> str:
        share = self.dropped / self.frames if self.frames else 0.0
        pace = "the model kept up" if not self.skipped else "the model was slower than the source"
        return (
            f"watched {self.frames} frames in {self.seconds:.1f} s: {self.windows} windows scored, "
            f"{self.skipped} skipped, {self.dropped} frames dropped ({share:.0%}) "
            + f"({pace})"
            + (" - stopped by the user" if self.interrupted else "")
        )


class _Feeder(threading.Thread):
    """Decodes the source into a ring buffer of the newest ``length`` frames (resized for the
    model), plus the full frames for a recording when asked."""

    def __init__(
        self,
        container: av.container.InputContainer,
        length: int,
        short_side: int,
        realtime: bool,
        record: bool,
    ) -> None:
        super().__init__(daemon=True)
        self.container, self.short_side, self.realtime = container, short_side, realtime
        self.ring: deque[tuple[int, float, np.ndarray]] = deque(maxlen=length)
        self.full: list[np.ndarray] | None = [] if record else None
        self.count = 0
        self.scalers = (VideoReformatter(), VideoReformatter())  # the ring's, the recording's
        self.error: str | None = None
        self.finished = False
        self.stop = threading.Event()
        self.changed = threading.Condition()

    def run(self) -> None:
        started = first = None
        try:
            for frame in self.container.decode(video=0):
                if self.stop.is_set():
                    break
                stamp = float(frame.time) if frame.time is not None else None
                if self.realtime and stamp is not None:  # play a file at its own rate
                    started, first = (
                        started or time.perf_counter(),
                        stamp if first is None else first,
                    )
                    delay = started + (stamp - first) - time.perf_counter()
                    if delay > 0 and self.stop.wait(delay):
                        break
                small = upright(frame, self.short_side, reformatter=self.scalers[0])
                full = None if self.full is None else upright(frame, None, None, self.scalers[1])
                with self.changed:
                    time_s = (stamp - (first or 0.0)) if stamp is not None else self.count / 30
                    self.ring.append((self.count, time_s, small))
                    if full is not None and self.full is not None:
                        self.full.append(full)
                    self.count += 1
                    self.changed.notify_all()
        except av.FFmpegError as err:
            self.error = f"decoding stopped ({err})"
        finally:
            with self.changed:
                self.finished = True
                self.changed.notify_all()

    def reached(self, due: int) -> Callable[[], bool]:
        return lambda: self.count >= due or self.finished

    def take_full(self) -> list[np.ndarray]:
        with self.changed:
            taken, self.full = self.full or [], [] if self.full is not None else None
        return taken


class _Recorder:
    """Writes frames with the latest label drawn on, in a thread of its own."""

    def __init__(self, output: Path, fps: float, predictor: VideoPredictor) -> None:
        self.queue: queue.Queue[Any] = queue.Queue()
        self.overlay = Overlay(predictor.classes)
        self.output, self.fps = output, fps
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def put(self, frames: list[np.ndarray], probabilities: np.ndarray | None) -> None:
        for frame in frames:
            self.queue.put((frame, probabilities))

    def _frames(self) -> Any:
        for frame, probabilities in iter(self.queue.get, None):
            yield frame if probabilities is None else self.overlay.draw(frame, probabilities)

    def _write(self) -> None:
        try:
            with replacing(self.output) as partial:
                write_video(partial, self._frames(), self.fps)
        except Exception as err:  # reported by close(), in the main thread
            self.error = err
            for _ in iter(self.queue.get, None):  # keep taking frames: the feeder must not block
                pass

    def close(self) -> None:
        """Wait for the last frame to be written; a failed recording is an error."""
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and not isinstance(self.error, NoFrames):
            raise VidactError(f"{self.output}: the recording failed ({self.error})")


class _LiveEvents:
    """Window scores as they come -> the events a timeline of the same windows gives. Each
    window goes to the tracker once the later windows its smoothing filter reads have come (the
    filter centred as offline, ``timeline.smooth``; at least one, whose centre ends its time),
    speaking for the time between the midpoints to its neighbours' centres as
    ``window_bounds`` has it: events come a stride or so later, at the times a timeline gives."""

    def __init__(
        self,
        predictor: VideoPredictor,
        settings: TimelineSettings,
        window_s: float,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.tracker = settings.tracker(predictor.classes, predictor.reject, window_s)
        self.settings, self.reject, self.emit = settings, predictor.reject, emit
        size = settings.smoothing
        self.before, self.later = size // 2, size - 1 - size // 2  # the filter's reach
        self.wait = max(self.later, 1)  # windows after one before it is handed over
        # (centre, end, probabilities, sureness) of the latest windows: all the oldest one
        # handed over needs
        self.recent: deque[tuple[float, float, np.ndarray, float]] = deque(
            maxlen=self.before + 1 + self.wait
        )
        self.received = self.handed = 0
        self.spoken_to = 0.0  # the end of the time the last window handed over spoke for

    def window(
        self, first_s: float, end_s: float, probabilities: np.ndarray, sureness: float
    ) -> None:
        """A window whose frames start at ``first_s`` and whose newest ends at ``end_s``."""
        self.recent.append(((first_s + end_s) / 2, end_s, probabilities, sureness))
        self.received += 1
        while self.handed + self.wait < self.received:
            self._hand_over()

    def finish(self) -> None:
        while self.handed < self.received:
            self._hand_over()
        for event in self.tracker.finish():
            self.emit(event)

    def _hand_over(self) -> None:
        """The oldest window not yet handed over, smoothed over the windows around it (those
        at hand: at the stream's start and end the filter pads as offline)."""
        windows = list(self.recent)
        position = self.handed - (self.received - len(windows))
        low, high = max(0, position - self.before), position + self.later + 1
        scores = np.stack([p for _, _, p, _ in windows[low:high]])
        sureness = np.array([s for _, _, _, s in windows[low:high]])
        sure = None if self.reject is None else is_sure(sureness, self.reject)
        size, mode = self.settings.smoothing, self.settings.smooth_mode
        vote = smooth(scores, size, mode, sure)[position - low]
        centre, end, probabilities, own = windows[position]
        if position + 1 < len(windows):
            end = (centre + windows[position + 1][0]) / 2
        for event in self.tracker.update(self.spoken_to, end, probabilities, vote, own):
            self.emit(event)
        self.spoken_to = end
        self.handed += 1


def watch(
    predictor: VideoPredictor,
    source: str,
    settings: TimelineSettings | None = None,
    emit: Callable[[dict[str, Any]], None] = print,
    output: str | Path | None = None,
    realtime: bool | None = None,
    events: Callable[[dict[str, Any]], None] | None = None,
) -> WatchReport:
    """Score the newest window of ``source`` every stride and ``emit`` ``{time_s, label,
    probability}``; a file plays at its own rate unless ``realtime`` is False. Stops at the end of
    the stream or on Ctrl-C, and reports what it scored and dropped.

    ``events`` receives each segment ``{start_s, end_s, label, mean_p, peak_p}`` when it closes:
    the segments a timeline of the scored windows gives (``_LiveEvents``)."""
    settings = settings or TimelineSettings()
    container = open_source(source)
    stream = container.streams.video[0]
    fps = float(stream.average_rate or stream.guessed_rate or _DEFAULT_FPS)
    length, step = settings.frames(fps)
    live = _LiveEvents(predictor, settings, length / fps, events) if events else None
    feeder = _Feeder(
        container,
        length,
        predictor.decode_size,
        not is_live(source) if realtime is None else realtime,
        output is not None,
    )
    recorder = _Recorder(Path(output), fps, predictor) if output is not None else None
    report, probabilities = WatchReport(), None
    due, scored_to = length, 0  # frames received when the next window is due; last covered
    started = time.perf_counter()
    feeder.start()
    try:
        while True:
            with feeder.changed:
                feeder.changed.wait_for(feeder.reached(due), 0.25)
                received, finished = feeder.count, feeder.finished
                window = list(feeder.ring) if received >= due or finished else None
            if recorder is not None:
                recorder.put(feeder.take_full(), probabilities)
            if window is None:
                continue
            if received < due and (not window or received == scored_to):
                break  # the end, every frame already scored
            report.skipped += max(0, (received - due) // step)
            frames = np.stack([frame for _, _, frame in window])
            scored, sureness = predictor.classify_frames(frames, fps)
            probabilities = scored.numpy()
            emit(
                {
                    "time_s": round(window[-1][1], 3),
                    "label": predictor.answer(probabilities, sureness),
                    "probability": round(float(probabilities.max()), 6),
                }
            )
            if live is not None:
                live.window(window[0][1], window[-1][1] + 1 / fps, probabilities, sureness)
            report.windows += 1
            report.covered += received - max(window[0][0], scored_to)
            scored_to, due = received, received + step
            if finished and received == feeder.count:
                break
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        feeder.stop.set()
        feeder.join()
        container.close()
        if live is not None:
            live.finish()
        report.frames = feeder.count
        report.seconds = time.perf_counter() - started
        if recorder is not None:
            recorder.put(feeder.take_full(), probabilities)
            recorder.close()
    if feeder.error and not report.frames:
        raise VideoReadError(source, feeder.error)
    return report
