"""Files and loggers: the W&B logger, media logging, checkpoint files, video files."""
