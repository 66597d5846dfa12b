"""Domain errors. Each carries the `extensions.code` the API reports to clients."""


class DomainError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadInput(DomainError):
    code = "BAD_USER_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Conflict(DomainError):
    code = "CONFLICT"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class NotConfigured(DomainError):
    """A capability (SMS, email, ...) needs a provider that this server has not been given."""

    code = "NOT_CONFIGURED"


class DatabaseBusy(DomainError):
    """Another process held the embedded database's write lock for longer than the busy timeout
    (SQLite, DOSSIER_SQLITE_BUSY_TIMEOUT). Nothing was written; the same request can be retried."""

    code = "DATABASE_BUSY"
