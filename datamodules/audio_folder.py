"""A folder of sound clips as K signals fitted at once (one network per clip).

Every clip is read as :class:`datamodules.audio.AudioDataModule` reads one (same crop, channels, media and
renders); they must share one sample rate, length (after the crop) and channel count.
"""

from __future__ import annotations

from typing import Any

from datamodules.audio import AudioDataModule
from datamodules.members import MembersDataModule, signal_files

#: file types read from a folder (a glob or a list may name any file soundfile reads).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


class AudioFolderDataModule(MembersDataModule):
    """Sound clips of one sample rate and length, each fitted by its own network, all in one batched pass.

    Args:
        path: a folder (its audio files, sorted by name), a glob pattern (``clips/*.wav``) or a list of files.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        batch_size: random samples per clip per training step; ``None`` uses every sample (full batch).
        seed: seed of the batch sampler (clip k uses seed + k); ``None`` takes the run's ``seed_everything``.
        reading: how every clip is read, as :class:`AudioDataModule` takes it (``start_seconds``,
            ``crop_seconds``: crop clips of different lengths to one, ``mono``).
    """

    kind = "audio"
    shared_meta = ("sample_rate",)

    def __init__(
        self,
        path: str | list[str],
        limit: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        **reading: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.files = signal_files(path, AUDIO_SUFFIXES, "audio files", limit)
        self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
        self.members = [AudioDataModule(str(file), **reading) for file in self.files]
        self.check_members()
