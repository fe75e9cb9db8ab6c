"""Typed provider errors, each with a message a person can act on.

Messages never contain the API key or request headers: they are shown on pages, written to
the audit log and printed by commands.
"""


class ProviderNotConfigured(Exception):
    """The provider has no API key (and the sandbox is off).

    Deliberately outside ProviderError, so a broad ``except ProviderError`` around a call
    never hides a configuration mistake.
    """


class ProviderError(Exception):
    """A provider request failed.

    ``proves_not_applied`` is True only when the answer (or the lack of a connection) proves
    the provider did not act on the request, so a write may safely be sent again. ``sent`` is
    False when the request never left (no connection): nothing of it can still be running.
    """

    proves_not_applied = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        answer_excerpt: str = "",
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.provider = provider
        self.status = status
        self.answer_excerpt = answer_excerpt
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class ProviderAuthError(ProviderError):
    """401/403: the key is wrong, revoked or lacks access."""

    proves_not_applied = True


class ProviderValidationError(ProviderError):
    """400/404/422: the provider refused the request as sent."""

    proves_not_applied = True


class ProviderRateLimited(ProviderError):
    """429: the provider refused the request for now."""

    proves_not_applied = True


class ProviderUnavailable(ProviderError):
    """The provider could not be reached, or answered 503 ("try later")."""

    proves_not_applied = True


class ProviderServerError(ProviderError):
    """500/502/504 and other unexpected statuses: the provider failed while handling it.

    It may have acted on part of a write before failing, so a write is settled by a look-up.
    """


class ProviderOutcomeUnknown(ProviderError):
    """The request was sent but its answer never arrived (read timeout, dropped connection)."""


class ProviderMalformedAnswer(ProviderError):
    """The provider answered success with a body we cannot read.

    The request did reach the provider and was probably applied; treat as outcome unknown.
    """
