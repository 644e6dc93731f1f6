"""Audio metrics: the signal-to-noise ratio of the clipped fit (PSNR is shared with images)."""

from __future__ import annotations

from inr.core.evaluation import Evaluation
from inr.metrics.base import MeanOverEvaluations


class SNR(MeanOverEvaluations):
    """Signal-to-noise ratio (dB) of the clipped prediction, averaged over channels.

    Per channel 10 log10(sum target^2 / sum error^2), not zero-meaned (``torchmetrics``' ``signal_noise_ratio``).
    """

    names = ("snr",)
    higher_is_better = True

    def update(self, evaluation: Evaluation) -> None:
        """SNR of this evaluation."""
        from torchmetrics.functional.audio import signal_noise_ratio

        low, high = evaluation.spec.value_range
        prediction = evaluation.prediction.clamp(low, high)
        self.add(signal_noise_ratio(prediction.T, evaluation.target("values").T, zero_mean=False).mean())

