"""An upload kept on disk for a moment, while its operator picks the email column.

Never in the audit. Owner-only (the folder 0700, each file 0600: other accounts on the
machine must not read the addresses), deleted once used, and by the retention purge when
the operator never came back.
"""

import os
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings


def kept_dir() -> Path:
    return settings.BASE_DIR / "var" / "uploads"


def upload_keep(chunks) -> str:
    """Write the upload's chunks to a new owner-only file; its token names it."""
    folder = kept_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # (an older folder may have been made with the umask's mode)
    token = uuid.uuid4().hex
    descriptor = os.open(folder / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as kept:
        for chunk in chunks:
            kept.write(chunk)
    return token


def upload_path(token: str) -> Path | None:
    """The kept file of ``token``, or None for anything that is not a token of ours."""
    try:
        return kept_dir() / uuid.UUID(hex=token).hex
    except (TypeError, ValueError):
        return None


def uploads_delete_older(cutoff: datetime) -> int:
    """Delete the kept uploads last written before ``cutoff``; how many."""
    folder = kept_dir()
    if not folder.is_dir():
        return 0
    folder.chmod(0o700)
    deleted = 0
    for path in folder.iterdir():
        if not path.is_file():
            continue
        if path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            deleted += 1
        else:
            path.chmod(0o600)  # (one kept before uploads were written owner-only)
    return deleted
