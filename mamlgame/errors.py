"""The error types mamlgame raises for bad user input; the CLI prints them as one line."""


class MamlgameError(Exception):
    """Base class: an error caused by user input, shown without a traceback."""


class PackError(MamlgameError):
    """A level pack is missing or malformed; the message names file, line and key path."""


class CheckpointError(MamlgameError):
    """A checkpoint is missing, truncated or not a mamlgame checkpoint."""


class TrainingError(MamlgameError):
    """Training cannot continue (e.g. repeated non-finite losses)."""
