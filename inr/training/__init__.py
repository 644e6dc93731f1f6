"""The Lightning side: INRModule, checkpoints and init_from, the loss guard, progress, member shards.

``distributed/`` holds the gradient all-reduce, rank-failure handling and the watchdog.
"""
