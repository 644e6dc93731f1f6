"""Value types and numerics every layer shares; no Lightning.

The signal spec, the step and evaluation batch types, grids, chunks, derivatives, precision, errors, atomic
files and the media value types.
"""
