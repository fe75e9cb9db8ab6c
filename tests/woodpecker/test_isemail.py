"""Our address verdict against the published isemail test set.

``tests/data/isemail/tests.json`` is the set Dominic Sayers published with is_email(),
as shipped in the npm package ``isemail`` 1.2.0 (BSD licence, alongside it): 185 addresses,
each with its diagnosis. Its categories: ``valid``; warnings that the address is legal but
unusual (``dns*``: no such domain today, ``rfc5321*``: legal for SMTP but exotic,
``cfws*``: comments or folding white space); ``deprecated*`` (obsolete syntax) and
``rfc5322*`` (legal only in the broad RFC 5322 sense, not deliverable by SMTP); and
``err*`` (not an address).

The set judges raw message-header text. We judge spreadsheet cells and pasted text, which
are trimmed of surrounding white space first ("  ann@example.com " means the address), so
an entry whose only fault is white space or line breaks around the address is judged by
its trimmed form.
"""

import json
from pathlib import Path

import pytest

from suppression_admin.woodpecker.ingest.addresses import TRIM_CHARS, check

TESTS = json.loads((Path(__file__).parents[1] / "data/isemail/tests.json").read_text())
# The JavaScript test adds these two (its JSON cannot hold a NUL).
TESTS += [["test@[\0", "errExpectingDTEXT"], ["(\0)test@example.com", "errExpectingCTEXT"]]

# Legal, but refused here, and why. Woodpecker keys its blacklist by deliverable address;
# none of these is one a person could give us from a real mailbox.
EXOTIC_BUT_REFUSED = {
    "test@io": "a domain without a dot: ICANN forbids mail on bare top-level domains",
    "test@org": "a domain without a dot: ICANN forbids mail on bare top-level domains",
    "test@iana.123": "an all-numeric top-level domain does not exist",
    "test@255.255.255.255": "an IP address must be written as a literal, [255.255.255.255]",
    "test@iana.a": "a one-letter top-level domain does not exist",
    "a@" + ".".join("abcdefghijklmnopqrstuvwxyz" * 5)[:251]: (
        "a one-letter top-level domain does not exist"
    ),
    "test@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888]": "IPv6 address literals",
    "test@[IPv6:1111:2222:3333:4444:5555::8888]": "IPv6 address literals",
    "test@[IPv6:::3333:4444:5555:6666:7777:8888]": "IPv6 address literals",
    "test@[IPv6:::]": "IPv6 address literals",
    "test@[IPv6:1111:2222:3333:4444:5555:6666:255.255.255.255]": "IPv6 address literals",
    "test@[IPv6:1111:2222:3333:4444::255.255.255.255]": "IPv6 address literals",
    '"test\r\n test"@iana.org': "a line break inside a quoted local part (folding white space)",
    "(comment\r\n comment)test@iana.org": "comments are not part of the address",
}


def trimmed(address: str) -> str:
    return address.strip(TRIM_CHARS)


def by_category(*prefixes: str) -> list[str]:
    return [address for address, diagnosis in TESTS if diagnosis.startswith(prefixes)]


def test_the_set_is_complete():
    assert len(TESTS) == 187
    assert set(EXOTIC_BUT_REFUSED) <= {address for address, _ in TESTS}


@pytest.mark.parametrize("address", by_category("valid"))
def test_every_valid_address_is_accepted_unless_named_as_refused(address):
    if address in EXOTIC_BUT_REFUSED:
        assert check(address) == ("", "not a valid email address")
    else:
        assert check(address) == (address.lower(), "")


@pytest.mark.parametrize("address", by_category("err", "deprecated", "rfc5322", "cfwsComment"))
def test_every_error_and_undeliverable_form_is_refused(address):
    used, reason = check(address)
    if trimmed(address) != address and check(trimmed(address))[0]:
        # White space or line breaks around a valid address: the address is used.
        assert used == trimmed(address).lower()
    else:
        assert (used, bool(reason)) == ("", True)


@pytest.mark.parametrize("address", by_category("dns", "rfc5321", "cfwsFWS"))
def test_legal_but_unusual_forms_are_accepted_except_those_named(address):
    used, _ = check(address)
    if address in EXOTIC_BUT_REFUSED:
        assert used == ""
    else:
        assert used == trimmed(address).lower()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("test@\u2407.org", "the domain is not a valid internationalised domain name"),
        ("test@iana.org\u240a", "the domain is not a valid internationalised domain name"),
        ("ann@xn--zzzzzz.com", "the domain is not a valid internationalised domain name"),
        ("ann@\uff21\uff22.com", "the domain is not a valid internationalised domain name"),
        (
            "a" * 65 + "@example.com",
            "longer than an email address can be (254 characters, 64 before the @)",
        ),
        (
            "test@[1111:2222:3333:4444:5555:6666:7777:8888]",
            "the domain is not a valid internationalised domain name",
        ),
    ],
)
def test_domains_a_mail_system_could_not_look_up_are_refused(address, reason):
    assert check(address) == ("", reason)


@pytest.mark.parametrize(
    "address",
    [
        "ann@b\u00fccher.de",
        "ann@xn--bcher-kva.de",
        "test@xn--hxajbheg2az3al.xn--jxalpdlp",
        "ann@[192.0.2.1]",
    ],
)
def test_internationalised_and_literal_domains_that_are_valid_are_accepted(address):
    assert check(address) == (address, "")


def test_a_decomposed_domain_is_the_same_address_as_the_composed_one():
    composed, decomposed = "ann@caf\u00e9.fr", "ann@cafe\u0301.fr"
    assert check(decomposed) == check(composed) == (composed, "")
    assert check("ann@ab--cd.\u00e4.com") == ("ann@ab--cd.\u00e4.com", "")


def test_an_internationalised_local_part_is_refused():
    # Legal with SMTPUTF8 (RFC 6531), but Django's validator refuses it and few mail
    # systems deliver to it; a person with such a mailbox has an ASCII address too.
    assert check("\u00e9l\u00e8ve@exemple.fr") == ("", "not a valid email address")
