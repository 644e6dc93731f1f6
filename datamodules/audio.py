"""Audio as a signal: f(t) -> channels, with time coordinates on [-1, 1] and sample values in [-1, 1].

The layout follows SIREN's audio fitting (Sitzmann et al. 2020, Sec. 4.2 and the official ``explore_siren``
notebook): sample ``i`` of ``N`` sits at ``t = linspace(-1, 1, N)[i]``; integer PCM is scaled by its full-scale
value, so 16-bit -32768 is -1. Renders keep the clip's duration on any output sample rate: output sample ``j``
at rate ``r'`` is evaluated at the time ``j / r'`` seconds, i.e. coordinate ``-1 + 2 j r / (r' (N - 1))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from datamodules.base import SignalDataModule
from inr.core import grids
from inr.core.atomic import atomic_output
from inr.core.chunks import chunk_slices
from inr.core.error_maps import psnr_db
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Picture, Sound
from inr.core.signal import SignalSpec
from inr.io.files import input_file

#: samples evaluated and written at once by ``render_to_file`` (bounded memory for any output length).
RENDER_BLOCK = 1 << 18

#: the no-path signal: a 1 s exponential chirp with two harmonics at 16 kHz, generated on the fly.
SYNTHETIC_RATE = 16000
SYNTHETIC_SECONDS = 1.0
SYNTHETIC_SOURCE = "synthetic: exponential chirp 110-1760 Hz + 2 harmonics, 1 s at 16 kHz (no data path given)"

#: WAV data-chunk sizes that mean "unknown" (streamed writers, RF64): no truncation check is possible.
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)

#: largest Ogg page in bytes: 27-byte header + 255 segment sizes + 255 x 255 body bytes.
_OGG_MAX_PAGE = 27 + 255 + 255 * 255


def _wav_data_sizes(path: Path) -> tuple[int, int] | None:
    """(bytes the ``data`` chunk declares, bytes present after its header) for a RIFF/WAVE file, else None."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        position = 12
        while position + 8 <= size:
            file.seek(position)
            chunk = file.read(8)
            chunk_size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return chunk_size, size - position - 8
            position += 8 + chunk_size + (chunk_size & 1)  # RIFF chunks are padded to an even size
    return None


def _ogg_is_complete(path: Path) -> bool | None:
    """For an Ogg file: whether its last page ends the file and carries the end-of-stream flag, else None.

    Ogg has no frame count in a header; libsndfile takes the length from the last complete page, so a cut file
    reads "successfully" with fewer frames. An Ogg page: "OggS", version, flags (0x04 = end of stream), 20 more
    header bytes, a segment count n at byte 26, n segment sizes, then the body (RFC 3533, Sec. 6).
    """
    size = path.stat().st_size
    with open(path, "rb") as file:
        if file.read(4) != b"OggS":
            return None
        file.seek(max(0, size - _OGG_MAX_PAGE))
        tail = file.read()
    base = size - len(tail)
    position = tail.rfind(b"OggS")
    while position >= 0:  # "OggS" may also occur inside a body: find the page that ends exactly at the end
        if position + 27 <= len(tail):
            count = tail[position + 26]
            table = tail[position + 27 : position + 27 + count]
            if len(table) == count and base + position + 27 + count + sum(table) == size:
                return bool(tail[position + 5] & 0x04)
        position = tail.rfind(b"OggS", 0, position)
    return False


def crop_range(total: int, rate: int, start_seconds: float, crop_seconds: float | None, what: str) -> tuple[int, int]:
    """(first sample, sample count) of a crop of a ``total``-sample clip at ``rate`` Hz; ``what`` names the clip.

    The crop is clipped at the end of the clip; it must keep at least 2 samples (the time grid needs 2 ends).
    """
    if start_seconds < 0:
        raise InputError(f"data start_seconds must be >= 0, got {start_seconds}")
    if crop_seconds is not None and not crop_seconds > 0:
        raise InputError(f"data crop_seconds must be > 0 (or null for the whole clip), got {crop_seconds}")
    start = round(start_seconds * rate)
    if start >= total:
        raise InputError(f"data start_seconds {start_seconds} is past the end of {what} ({total / rate:.4g} s)")
    frames = total - start if crop_seconds is None else min(round(crop_seconds * rate), total - start)
    if frames < 2:
        raise InputError(
            f"data crop of {what} keeps {frames} sample(s) at {rate} Hz (start_seconds {start_seconds}, "
            f"crop_seconds {crop_seconds}); at least 2 are needed"
        )
    return start, frames


def read_audio(
    path: str | Path, start_seconds: float = 0.0, crop_seconds: float | None = None
) -> tuple[np.ndarray, int, str]:
    """Read (a crop of) any file soundfile reads (WAV/FLAC/OGG...; 8/16/24/32-bit or float; any channel count).

    Args:
        path: the audio file.
        start_seconds: where the crop starts, in seconds from the beginning.
        crop_seconds: crop length in seconds (clipped at the end of the file); ``None`` keeps the rest.

    Returns:
        ``(samples [N, C] float32 in [-1, 1], sample rate in Hz, soundfile subtype such as "PCM_16")``. Integer
        PCM is scaled by its full-scale value; float files whose peak exceeds 1 are divided by their peak.
    """
    import soundfile as sf

    path = input_file(path, "audio file")
    try:
        info = sf.info(str(path))
    except Exception as error:  # soundfile raises LibsndfileError/RuntimeError/TypeError; name file and reason
        reason = str(error).split(": ", 1)[-1].strip() or type(error).__name__
        raise InputError(
            f"cannot read audio file {path}: not a format soundfile reads (WAV, FLAC, OGG, ...): {reason}"
        ) from None
    # Truncation first: libsndfile derives the frame count from the bytes present, so a cut file may claim 0.
    sizes = _wav_data_sizes(path)
    if sizes is not None and sizes[0] not in _UNKNOWN_WAV_SIZES and sizes[1] < sizes[0]:
        raise InputError(
            f"audio file {path} is truncated: its WAV header declares {sizes[0]} bytes of samples but only "
            f"{sizes[1]} follow (a copy cut short?)"
        )
    if _ogg_is_complete(path) is False:
        raise InputError(
            f"audio file {path} is truncated: its last Ogg page is cut short or lacks the end-of-stream flag "
            "(a copy cut short?)"
        )
    if info.frames == 0:
        raise InputError(f"audio file {path} holds no samples (its header declares 0 frames)")
    start, frames = crop_range(info.frames, info.samplerate, start_seconds, crop_seconds, f"audio file {path}")
    try:
        samples, _ = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except Exception as error:  # the header parsed but the samples do not decode
        reason = str(error).split(": ", 1)[-1].strip() or type(error).__name__
        raise InputError(f"cannot decode audio file {path} (truncated or corrupt?): {reason}") from None
    if samples.shape[0] != frames:
        raise InputError(f"audio file {path} is truncated: its header declares {frames} frames, read {len(samples)}")
    bad = ~np.isfinite(samples)
    if bad.any():
        frame, channel = np.argwhere(bad)[0]
        raise InputError(
            f"audio file {path} holds {int(bad.sum())} NaN/infinite sample(s) (first at frame {start + frame}, "
            f"channel {channel})"
        )
    peak = float(np.abs(samples).max())
    if peak > 1.0:
        samples = samples / peak
    return samples, info.samplerate, info.subtype


def synthetic_audio(sample_rate: int = SYNTHETIC_RATE, seconds: float = SYNTHETIC_SECONDS) -> np.ndarray:
    """The no-path test signal, [N, 1] float32 with peak 0.9: an exponential chirp with 2 harmonics.

    The fundamental sweeps 110 -> 1760 Hz (4 octaves) with harmonics 2 and 3 at amplitudes 1/2 and 1/4, under a
    3 Hz tremolo, so the signal holds both low and high frequencies (up to 5.3 kHz) like speech or music.
    """
    count = round(sample_rate * seconds)
    t = np.arange(count, dtype=np.float64) / sample_rate
    low, ratio = 110.0, 16.0  # 110 Hz up to 16 x 110 = 1760 Hz over the clip
    phase = 2 * math.pi * low * seconds / math.log(ratio) * (ratio ** (t / seconds) - 1)
    tone = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    signal = tone * (0.6 + 0.4 * np.sin(2 * math.pi * 3.0 * t))
    return (0.9 * signal / np.abs(signal).max()).astype(np.float32)[:, None]


def time_grid(num_samples: int) -> Tensor:
    """Time coordinates of ``num_samples`` samples on [-1, 1], [N, 1] (SIREN's ``linspace``)."""
    return grids.grid((num_samples,))


def output_length(spec: SignalSpec, rate: int) -> int:
    """Samples of a render at ``rate`` Hz that lasts as long as the training clip (N / sample_rate seconds)."""
    return max(1, round(spec.shape[0] * rate / spec.meta["sample_rate"]))


def render_coords(spec: SignalSpec, rate: int, start: int, stop: int) -> Tensor:
    """Coordinates [stop - start, 1] of output samples ``start..stop-1`` at ``rate`` Hz (time ``j / rate`` s)."""
    step = 2.0 * spec.meta["sample_rate"] / (rate * (spec.shape[0] - 1))
    index = torch.arange(start, stop, dtype=torch.float64)
    return (-1.0 + step * index).float().unsqueeze(-1)


def waveform_picture(
    target: np.ndarray, prediction: np.ndarray, width: int = 1024, height: int = 96
) -> tuple[np.ndarray, float]:
    """Target, reconstruction and error waveforms as one RGB picture, drawn with numpy (min/max per column).

    Args:
        target: samples [N] in [-1, 1] (channels mixed down by the caller).
        prediction: reconstruction [N] in [-1, 1].
        width: picture width in pixels (at most N).
        height: height of each of the three panels in pixels.

    Returns:
        ``(uint8 picture [3 * height, width, 3], error gain)``: panels top to bottom are the target (black), the
        reconstruction (blue) and the error ``prediction - target`` times the gain (red), a power of 10 chosen
        so the error peak fills more than a tenth of its panel.
    """
    error = prediction - target
    peak = float(np.abs(error).max())
    gain = 10.0 ** math.floor(-math.log10(peak)) if 0 < peak < 1 else 1.0
    width = min(width, len(target))
    edges = np.linspace(0, len(target), width + 1).astype(np.int64)[:-1]
    rows = np.arange(height)[:, None]
    panels = []
    for wave, colour in ((target, (0, 0, 0)), (prediction, (31, 119, 180)), (error * gain, (214, 39, 40))):
        wave = np.clip(wave, -1, 1)
        top = np.round((1 - np.maximum.reduceat(wave, edges)) / 2 * (height - 1))
        bottom = np.round((1 - np.minimum.reduceat(wave, edges)) / 2 * (height - 1))
        panel = np.full((height, width, 3), 255, dtype=np.uint8)
        panel[(height - 1) // 2] = 200  # the zero line
        panel[(rows >= top) & (rows <= bottom)] = colour
        panel[-1] = 128  # separator between panels
        panels.append(panel)
    return np.concatenate(panels), gain


class AudioDataModule(SignalDataModule):
    """A sound clip as a signal f(t) -> C channels.

    Args:
        path: audio file soundfile reads (WAV/FLAC/OGG..., any sample rate, 8/16/24/32-bit or float, any number of
            channels); ``None`` generates a labelled synthetic chirp with harmonics (1 s at 16 kHz).
        start_seconds: start of the crop, in seconds.
        crop_seconds: length of the crop in seconds (clipped at the end of the file); ``None`` keeps the whole clip.
        mono: mix all channels down to one (their mean); ``False`` keeps every channel as an output.
        batch_size: random samples per training step; ``None`` uses the whole clip every step (full batch).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
    """

    kind = "audio"

    def __init__(
        self,
        path: str | None = None,
        start_seconds: float = 0.0,
        crop_seconds: float | None = None,
        mono: bool = False,
        batch_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.path = path
        if path is None:
            samples, rate, self.subtype = synthetic_audio(), SYNTHETIC_RATE, "PCM_16"
            start, frames = crop_range(len(samples), rate, start_seconds, crop_seconds, "the synthetic signal")
            samples = samples[start : start + frames]
        else:
            samples, rate, self.subtype = read_audio(path, start_seconds, crop_seconds)
        if mono and samples.shape[1] > 1:
            samples = samples.mean(axis=1, keepdims=True)
        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.sample_rate = rate
        self.num_samples, self.channels = self.samples.shape
        self.start_seconds = start_seconds

    def signal_tensors(self) -> dict[str, Tensor]:
        """``coords [N, 1]`` (time) in [-1, 1] and ``values [N, C]`` in [-1, 1]."""
        return {"coords": time_grid(self.num_samples), "values": torch.from_numpy(self.samples)}

    @property
    def signal_spec(self) -> SignalSpec:
        """Dims, length (samples,), sample rate and value range of the clip, saved in the checkpoint."""
        return self.spec(1, self.channels, shape=(self.num_samples,), source=self.path or SYNTHETIC_SOURCE,
                         meta={"sample_rate": self.sample_rate, "subtype": self.subtype,
                               "start_seconds": self.start_seconds})

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The reconstruction as audio at the clip's rate; a waveform/error picture, scale and PSNR in its caption."""
        reconstruction = evaluation.prediction.detach().clamp(-1, 1).float().cpu().numpy()
        picture, gain = waveform_picture(self.samples.mean(axis=1), reconstruction.mean(axis=1))
        mixed = ", channels mixed" if self.channels > 1 else ""
        psnr = psnr_db(float(np.square((reconstruction - self.samples) / 2.0).mean()))  # range [-1, 1]
        return [
            Sound("val/audio", reconstruction[:, 0] if self.channels == 1 else reconstruction, self.sample_rate,
                  f"reconstruction at step {evaluation.step}"),
            Picture("val/waveform", [picture],
                    [f"target (black), reconstruction (blue), error x{gain:g} (red: its panel spans +-{1 / gain:g})"
                     f"{mixed}, PSNR {psnr:.2f} dB"]),
        ]

    @staticmethod
    def render_to_file(
        predict: Callable[[Tensor], Tensor], spec: SignalSpec, out: str, resolution: int | None
    ) -> str:
        """Write the clip to ``out`` (WAV/FLAC/OGG by extension) at ``resolution`` Hz (default: the clip's rate).

        The render lasts as long as the training clip, so twice the sample rate gives twice the samples; it is
        evaluated and written in blocks of ``RENDER_BLOCK`` samples (bounded memory), clipped to [-1, 1], with the
        source's sample format when the output format supports it. A failed render leaves no partial file.
        """
        import soundfile as sf

        rate = spec.meta["sample_rate"] if resolution is None else resolution
        if rate < 1:
            raise InputError(f"--resolution (the output sample rate in Hz) must be >= 1, got {rate}")
        kind = Path(out).suffix.lstrip(".").upper()
        if kind not in sf.available_formats():
            raise InputError(f"--out {out}: unknown audio file type {Path(out).suffix!r}; use .wav, .flac or .ogg")
        subtype = spec.meta.get("subtype")
        if subtype is None or not sf.check_format(kind, subtype):
            subtype = sf.default_subtype(kind)
        count = output_length(spec, rate)
        with atomic_output(out) as temporary:
            with sf.SoundFile(temporary, "w", samplerate=rate, channels=spec.out_dim, subtype=subtype) as file:
                for block in chunk_slices(count, RENDER_BLOCK):
                    values = predict(render_coords(spec, rate, block.start, block.stop))
                    file.write(values.detach().clamp(-1, 1).float().cpu().numpy())
        duration = f"{count} samples at {rate} Hz ({count / rate:.3f} s)"
        return f"wrote {out}: {duration}, {spec.out_dim} channel(s), {subtype}"
