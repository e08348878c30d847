"""``Refusal``: the one type for a request the server will not serve, carrying the HTTP status
it is answered with (h11's ``ProtocolError(error_status_hint=…)`` is the model). Raised by
parsing and views before the first byte of an answer; answered in each API's JSON shape by
``showcase.web.refusals``. Pure: no Flask, no I/O.
"""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["INVALID_NAME", "INVALID_PARAMETER", "Refusal"]

# What went wrong, the "error" of the contract's JSON body: HTTP's own reason phrase where
# one fits (werkzeug's handler answers unrouted paths with the same words).
INVALID_PARAMETER = "invalid parameter"  # a 400's default: a value outside the contract
INVALID_NAME = "invalid name"  # a 400: a name that may not be asked for (a path outside)


class Refusal(ValueError):
    """A request refused with ``status`` (400 by default): ``field`` names what (None: the
    request as a whole), ``detail`` says why, ``error`` what kind of refusal it is (default:
    ``"invalid parameter"`` for a 400, else the status's reason phrase, lower case), ``code``
    a machine-readable word for the APIs that carry one (OpenAI's ``invalid_type``, …)."""

    def __init__(
        self,
        field: str | None,
        detail: str,
        *,
        status: int = HTTPStatus.BAD_REQUEST,
        error: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(f"{field}: {detail}" if field else detail)
        self.field = field
        self.detail = detail
        self.status = int(status)
        if error is None:
            error = INVALID_PARAMETER if status == 400 else HTTPStatus(status).phrase.lower()
        self.error = error
        self.code = code

    def to_json(self) -> dict[str, str | None]:
        """The contract's error body: ``{"error", "field", "detail"}``."""
        return {"error": self.error, "field": self.field, "detail": self.detail}
