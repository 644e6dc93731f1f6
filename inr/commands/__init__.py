"""The ``inr`` subcommands besides fit and validate (:mod:`inr.cli`), one module each."""
