"""Domain errors. Each carries a message meant to be shown to a person as is."""


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""


class SlaParseError(DomainError):
    """An SLA text such as "3 hari kerjaa" that cannot be read."""


class CalendarError(DomainError):
    """A date or time the office calendar cannot place."""


class WorkflowError(DomainError):
    """A workflow file that is not valid; the message names the key at fault."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        where = source if key in ("(name)", "(file)") else f"{source}: {key}"
        super().__init__(f"{where}: {problem}")


class TransitionError(DomainError):
    """A trigger that cannot be fired on a case."""


class UnknownAction(TransitionError):
    pass


class InvalidTransition(TransitionError):
    pass


class RoleNotAllowed(TransitionError):
    pass
