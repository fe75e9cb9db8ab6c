"""Normalising and validating single values, and the fast path agreeing with Django."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from suppression_admin.woodpecker.ingest.addresses import (
    REASON_EMPTY,
    REASON_INVALID,
    REASON_INVISIBLE,
    REASON_UNDECODABLE,
    _fast_valid,
    check,
    normalise,
)
from suppression_admin.woodpecker.ingest.table import header_key, is_email_header


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann@Example.COM ", "ann@example.com"),
        ("\u00a0ann@example.com\u200b", "ann@example.com"),
        ("\ufeff<ann@example.com>", "ann@example.com"),
        ("MAILTO:ann@example.com", "ann@example.com"),
        ("<mailto:ann@example.com>", "ann@example.com"),
        ("mailto: <ann@example.com>", "ann@example.com"),
        ("Straße@example.com", "straße@example.com"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "verdict"),
    [
        ("ann@example.com", ("ann@example.com", "")),
        ("ann.o'neil+tag@sub.example.co.uk", ("ann.o'neil+tag@sub.example.co.uk", "")),
        ("ann@exämple.com", ("ann@exämple.com", "")),
        ("ann@xn--exmple-cua.com", ("ann@xn--exmple-cua.com", "")),
        ("   ", ("", REASON_EMPTY)),
        ("<>", ("", REASON_INVALID)),
        ("ann@@example.com", ("", REASON_INVALID)),
        ("ann@example", ("", REASON_INVALID)),
        ("ann@-example.com", ("", REASON_INVALID)),
        ("a" * 310 + "@example.com", ("", REASON_INVALID)),
        ("ann@exa\u200bmple.com", ("", REASON_INVISIBLE)),
        ("ann@exa\u3000mple.com", ("", REASON_INVISIBLE)),
        ("ann@exa\ufffdmple.com", ("", REASON_UNDECODABLE)),
    ],
)
def test_check(raw, verdict):
    assert check(raw) == verdict


def test_header_key_and_email_headers():
    assert header_key(" E-Mail Address ") == "emailaddress"
    assert header_key("Correo electrónico") == "correoelectronico"
    assert is_email_header("email_address")
    assert is_email_header("Adresse mail")
    assert not is_email_header("Gmail account")
    assert not is_email_header("Name")


def django_accepts(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


EMAILISH = st.text(alphabet="abcxyz09-._+'@!#%{}~\"[]:ä ", min_size=1, max_size=40)


@settings(max_examples=1500, deadline=None)
@given(EMAILISH)
def test_fast_path_accepts_only_what_django_accepts(text):
    if _fast_valid(text) and len(text) <= 320:
        assert django_accepts(text)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[a-z0-9_-]{1,5}){0,2}", fullmatch=True),
    st.from_regex(r"([a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\.){1,3}[a-z]{2,6}", fullmatch=True),
)
def test_fast_path_agrees_with_django_on_plain_addresses(local, domain):
    address = f"{local}@{domain}"
    assert bool(_fast_valid(address)) == django_accepts(address)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_check_never_accepts_what_django_refuses(text):
    address, reason = check(text)
    if address:
        assert not reason
        assert django_accepts(address)
        assert address == normalise(text)
    else:
        assert reason
