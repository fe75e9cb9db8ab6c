"""Woodpecker's blacklist API (see shared/PROVIDERS.md).

Woodpecker processes one request at a time per API key; callers that may run concurrently
must serialise requests per key (the client itself does not know about other processes).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from suppression_admin.providers.base import Answer, ProviderClient, Request

BLACKLIST_PATH = "/v2/blacklist/emails"
MAX_EMAILS_PER_CALL = 500
MAX_PER_PAGE = 500
MAX_URL_LENGTH = 4100
# Pages read for one look-up batch at most (a wildcard-like address matching the world).
MAX_LOOKUP_PAGES = 50


@dataclass(frozen=True)
class BlacklistPage:
    emails: list[str]
    total: int


class WoodpeckerClient(ProviderClient):
    name = "Woodpecker"

    def list_page(
        self, *, page: int = 0, per_page: int = MAX_PER_PAGE, email_filter: str = ""
    ) -> BlacklistPage:
        """One 0-based page; ``email_filter`` is comma-separated with ``*`` as wildcard."""
        answer = self._request(
            "GET",
            BLACKLIST_PATH,
            params={"page": page, "per_page": per_page, "email_filter": email_filter},
        )
        data = answer.data
        if not isinstance(data, dict):
            raise self._malformed(answer, "an object with 'emails' was expected")
        emails = self._parse_emails(answer, data.get("emails"))
        total = data.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            total = len(emails)
        return BlacklistPage(emails=emails, total=total)

    def lookup(self, emails: Sequence[str]) -> set[str]:
        """Which of ``emails`` are on the blacklist now, in as few URL-length-safe requests."""
        wanted = {email.lower() for email in emails}
        found: set[str] = set()
        for batch in self.lookup_batches(list(dict.fromkeys(emails))):
            # An address may hold "*" (a wildcard to the filter) and match more than itself:
            # read every page of the matches, never conclude from a cut-off first one.
            number, seen = 0, 0
            while True:
                page = self.list_page(
                    page=number, per_page=MAX_PER_PAGE, email_filter=",".join(batch)
                )
                found.update(email for email in page.emails if email.lower() in wanted)
                seen += len(page.emails)
                number += 1
                if not page.emails or seen >= page.total or number >= MAX_LOOKUP_PAGES:
                    break
        return found

    def lookup_batches(self, emails: Sequence[str]) -> Iterator[list[str]]:
        """Split emails so each look-up URL stays within Woodpecker's 4,100 characters."""
        fixed = len(f"{self.base_url}{BLACKLIST_PATH}?page=0&per_page=500&email_filter=")
        budget = MAX_URL_LENGTH - fixed
        batch: list[str] = []
        size = 0
        for email in emails:
            cost = len(quote_plus(email)) + (len("%2C") if batch else 0)
            if batch and (size + cost > budget or len(batch) >= MAX_PER_PAGE):
                yield batch
                batch, size, cost = [], 0, len(quote_plus(email))
            batch.append(email)
            size += cost
        if batch:
            yield batch

    def remove(self, emails: Sequence[str]) -> list[str]:
        """DELETE up to 500 emails; returns the ones Woodpecker says it removed."""
        return self.removed_by(self.send(self.removal_request(emails)))

    def removal_request(self, emails: Sequence[str]) -> Request:
        """The DELETE for up to 500 emails, built to be recorded before it is sent."""
        return self._write_request("DELETE", emails)

    def removed_by(self, answer: Answer) -> list[str]:
        """The emails a removal's answer says were removed (the others were not listed)."""
        return self._emails_in(answer)

    def add(self, emails: Sequence[str]) -> list[str]:
        """POST up to 500 emails; returns every email now blacklisted per the answer."""
        return self._emails_in(self.send(self._write_request("POST", emails)))

    def _write_request(self, method: str, emails: Sequence[str]) -> Request:
        if not emails:
            raise ValueError("No emails to send.")
        if len(emails) > MAX_EMAILS_PER_CALL:
            raise ValueError(f"At most {MAX_EMAILS_PER_CALL} emails per request.")
        return self.build(
            method, BLACKLIST_PATH, json_body={"emails": list(emails)}, item_count=len(emails)
        )

    def _emails_in(self, answer: Answer) -> list[str]:
        data = answer.data
        if not isinstance(data, dict):
            raise self._malformed(answer, "an object with 'emails' was expected")
        return self._parse_emails(answer, data.get("emails"))

    def _parse_emails(self, answer: Answer, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise self._malformed(answer, "'emails' is not a list")
        emails = []
        for item in value:
            # The docs show strings; accept {"email": ...} objects rather than fail on them.
            email = item.get("email") if isinstance(item, dict) else item
            if not isinstance(email, str):
                raise self._malformed(answer, "an entry of 'emails' is not an address")
            emails.append(email)
        return emails
