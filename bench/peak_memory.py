"""Run ``python -m bench.peak_memory MODULE ARGS...``: the module as ``__main__``, then its peak GPU memory.

Peak resident (CPU) memory is measured by the parent from the process's rusage; this adds the GPU side.
"""

from __future__ import annotations

import runpy
import sys

import torch


def main() -> None:
    module = sys.argv[1]
    sys.argv = sys.argv[1:]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        if torch.cuda.is_available():
            print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
