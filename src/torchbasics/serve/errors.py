"""A bad request: the package's one error type, plus the HTTP status that answers it."""

from __future__ import annotations

from torchbasics.errors import TorchbasicsError

# Any other TorchbasicsError raised while answering (a blank picture, a bonus feature out
# of range) is the content's fault, not the request's form: 422 Unprocessable Content.
CONTENT_STATUS = 422


class RequestError(TorchbasicsError):
    """A :class:`TorchbasicsError` with the status code the server answers it with.

    ``status``: 400 malformed, 404 no such model, 408 the body stopped arriving,
    413 too large, 415 not a supported kind of content, 422 well-formed but unusable.
    """

    def __init__(self, status: int, what: str, *, where: str | None = None,
                 fix: str | None = None):
        super().__init__(what, where=where, fix=fix)
        self.status = status


def status_of(error: TorchbasicsError) -> int:
    """The HTTP status for ``error``."""
    return error.status if isinstance(error, RequestError) else CONTENT_STATUS
