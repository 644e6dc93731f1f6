"""Audio clips for meta-learning: short crops of recordings, held-out clips from other files (or a held-out tail).

Each clip is a signal f(t) -> channels on its own [-1, 1] time grid, read as :class:`datamodules.audio.AudioDataModule`
reads a file (see :mod:`datamodules.crops` for the split and the sampling).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from datamodules.audio import read_audio, waveform_picture
from datamodules.crops import CropSetDataModule
from datamodules.members import signal_files
from inr.core.errors import InputError
from inr.core.media import Media, Picture
from inr.core.signal import SignalSpec

#: file types read from a folder.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")
#: held-out clips shown in the validation media.
MEDIA_CLIPS = 2


class AudioClipDataModule(CropSetDataModule):
    """Random ``clip``-sample crops of recordings; the last ``holdout`` of the files (or of one file) held out.

    Args:
        path: a folder (its audio files, sorted by name), a glob pattern, a list of files, or one file (split in time).
        clip: samples per clip.
        mono: mix the channels down to one.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        crop_set: ``batch_size`` (clips per step), ``val_crops``, ``holdout`` (of the files, or of one file's
            duration) and ``seed``, as :class:`CropSetDataModule` takes them.
    """

    kind = "audio"
    single = "datamodules.audio.AudioDataModule"

    def __init__(
        self,
        path: str | list[str],
        clip: int = 1024,
        mono: bool = True,
        limit: int | None = None,
        **crop_set: Any,
    ) -> None:
        super().__init__((clip,), **crop_set)
        self.path = path if isinstance(path, str) else f"{len(path)} listed files"
        files = signal_files(path, AUDIO_SUFFIXES, "audio files", limit)
        sources, rates = [], []
        for file in files:
            samples, rate, self.subtype = read_audio(file)
            if mono:
                samples = samples.mean(axis=1, keepdims=True)
            sources.append(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)))
            rates.append(rate)
        if len(set(rates)) > 1:
            first = rates[0]
            other = next(index for index, rate in enumerate(rates) if rate != first)
            raise InputError(f"{files[other]} is sampled at {rates[other]} Hz, but {files[0]} at {first} Hz: the clips "
                             "of a dataset share one sample rate")
        self.sample_rate = rates[0]
        self.prepare_crops(sources, [str(file) for file in files])

    @property
    def signal_spec(self) -> SignalSpec:
        """One clip: (clip,) samples at the recordings' rate, rendered as audio."""
        return self.crop_spec(source=f"clips of {self.path}", value_range=(-1.0, 1.0),
                              meta={"sample_rate": self.sample_rate, "subtype": self.subtype, "start_seconds": 0.0})

    def crop_media(self, columns: dict[str, Tensor], step: int) -> list[Media]:
        """Waveforms of the first held-out clips: the first column (the truth) against each other column."""
        names = list(columns)
        truth = columns[names[0]]
        items: list[Media] = []
        for index in range(min(MEDIA_CLIPS, self.val_crops)):
            target = truth[index].mean(dim=-1).float().cpu().numpy()
            pictures = [waveform_picture(target, columns[name][index].mean(dim=-1).clamp(-1, 1).float().cpu().numpy(),
                                         width=512, height=64)[0] for name in names[1:]]
            items.append(Picture(f"val/clips/{index}", pictures,
                                 [f"{name} against the truth, training step {step}" for name in names[1:]]))
        return items


def read_clip_signal(spec: SignalSpec, path: str) -> Tensor:
    """The first ``spec.shape[0]`` samples of an audio file as one clip of ``spec``: values [samples, c].

    Channels are mixed to one if the model's clips have one.
    """
    samples, rate, _ = read_audio(path)
    if rate != spec.meta.get("sample_rate"):
        raise InputError(f"{path} is sampled at {rate} Hz, the model's clips at {spec.meta.get('sample_rate')} Hz")
    if spec.out_dim == 1:
        samples = samples.mean(axis=1, keepdims=True)
    length = spec.shape[0]
    if samples.shape[0] < length or samples.shape[1] != spec.out_dim:
        raise InputError(f"{path} has {samples.shape[0]} samples x {samples.shape[1]} channel(s); the model's clips "
                         f"are {length} x {spec.out_dim}")
    return torch.from_numpy(np.ascontiguousarray(samples[:length], dtype=np.float32))
