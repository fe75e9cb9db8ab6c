"""Turning an uploaded spreadsheet, or pasted text, into email addresses for the blacklist.

The result holds the normalised, valid, de-duplicated addresses and an account of every
row not used (row number, value, reason): nothing is dropped silently. A file that cannot
be used at all is refused with ``IngestRefused`` and a sentence saying why.

Modules: ``api`` (the entry points), ``detect`` (file kind, encoding, delimiter), ``table``
(header, email column, accounting), ``addresses`` (normalising and validating),
``csv_source`` / ``xlsx_source`` (streaming records), ``errors`` and ``result``.
"""

from .api import ingest_pasted, ingest_upload
from .errors import ColumnCandidate, ColumnChoiceNeeded, IngestRefused
from .result import IngestResult, Limits, UnusedRow

__all__ = [
    "ColumnCandidate",
    "ColumnChoiceNeeded",
    "IngestRefused",
    "IngestResult",
    "Limits",
    "UnusedRow",
    "ingest_pasted",
    "ingest_upload",
]
