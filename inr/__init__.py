"""inr: implicit neural representations with PyTorch Lightning.

Layers, each importing only those below it (the contracts in pyproject.toml, checked by tests/test_layers.py):
``commands`` / ``cli`` > ``experiments`` > ``meta`` > ``training`` > ``io`` > ``losses``, ``metrics``, ``nn``,
``ntk`` > ``core``. The DataModules (package ``datamodules``) import only ``core`` and ``io``.
"""

from inr import compat

__version__ = "0.1.0"

compat.install()
