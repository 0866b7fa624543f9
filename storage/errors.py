"""Errors storage raises on purpose; each message can be shown to a person as is."""


class StorageError(Exception):
    pass


class NotFound(StorageError):
    pass


class InvalidInput(StorageError):
    pass


class Conflict(StorageError):
    """Someone else changed the case first; says who and what the case is now."""

    def __init__(self, message: str, *, actor: str | None = None, state: str | None = None):
        super().__init__(message)
        self.actor, self.state = actor, state
