"""The application's one error type, with the kinds the API maps to HTTP statuses."""


class DomainError(Exception):
    """A rule of engagement said no. `status` is the HTTP status the API answers with."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        body = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(DomainError):
    """Missing or bad input (a reason code, a note); names the field."""

    status = 400
    code = "invalid"


class NotAllowed(DomainError):
    """The actor's role does not allow this action on this handoff."""

    status = 403
    code = "forbidden"


class WrongState(DomainError):
    """The handoff is not in a state where this action applies."""

    status = 409
    code = "conflict"
