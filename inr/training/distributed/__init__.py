"""Multi-process training: the gradient all-reduce, rank-failure handling, the hang watchdog."""
