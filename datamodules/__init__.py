"""DataModules that own a signal as tensors and sample it on the device."""

from datamodules.base import SignalDataModule
from datamodules.image import ImageDataModule

__all__ = ["ImageDataModule", "SignalDataModule"]
