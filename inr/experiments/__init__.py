"""Spectral-bias experiments of Tancik et al. 2020, each writing a PNG, a CSV and an offline W&B run.

- :mod:`inr.experiments.psweep`: 1D band-limited Fourier features a_j = 1 / j^p, NTK bandwidth and test error.
- :mod:`inr.experiments.table`: 2D image regression on held-out pixels for none / basic / PE / Gaussian.
- :mod:`inr.experiments.spectra`: NTK spectra of a ReLU MLP, SIREN and Gaussian Fourier features side by side.
- :mod:`inr.commands.ntk`: ``inr ntk``, the NTK report of any encoder + network from a config.
"""
