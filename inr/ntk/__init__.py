"""Neural tangent kernel (NTK) and spectral-bias analysis of any encoder + network.

Jacot et al. 2018, "Neural Tangent Kernel: Convergence and Generalization in Neural Networks"; Tancik et al. 2020,
"Fourier Features Let Networks Learn High Frequency Functions in Low Dimensional Domains".

- :mod:`inr.ntk.empirical`: K(x, x') = <df(x)/dtheta, df(x')/dtheta> with torch.func, in blocks of points,
  averaged over seeds.
- :mod:`inr.ntk.analytic`: infinite-width ReLU MLP kernel (arc-cosine recursion) and the closed form of
  Fourier features + one linear layer.
- :mod:`inr.ntk.spectrum`: 1D cross-sections, their FFT spectrum, eigendecomposition.
- :mod:`inr.ntk.dynamics`: the NTK prediction of gradient-descent training.
"""

from inr.ntk.analytic import fourier_linear_ntk, gaussian_init_, relu_ntk
from inr.ntk.dynamics import eigen_residuals, kernel_regression, predict_dynamics
from inr.ntk.empirical import averaged_ntk, empirical_ntk
from inr.ntk.spectrum import cross_section, eigen, spectrum, stationary_profile

__all__ = [
    "averaged_ntk",
    "cross_section",
    "eigen",
    "eigen_residuals",
    "empirical_ntk",
    "fourier_linear_ntk",
    "gaussian_init_",
    "kernel_regression",
    "predict_dynamics",
    "relu_ntk",
    "spectrum",
    "stationary_profile",
]
