"""Errors storage raises on purpose; each message can be shown to a person as is.

The message is English (the CLI and the logs speak it). An error that can reach an
officer or a citizen in chat also carries a catalog key and its values, so the chat
says it in the reader's language (handlers.words.error_text).
"""


class StorageError(Exception):
    def __init__(self, message: str, *, key: str | None = None, **values):
        super().__init__(message)
        self.key, self.values = key, values


class NotFound(StorageError):
    pass


class InvalidInput(StorageError):
    pass


class Conflict(StorageError):
    """Someone else changed the case first; says who and what the case is now."""

    def __init__(self, message: str, *, actor: str | None = None, state: str | None = None):
        super().__init__(message)
        self.actor, self.state = actor, state
