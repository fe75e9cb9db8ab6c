"""What a provider key remembers between turns, on PostgreSQL (see keys.lock).

Read and written only by keys.lock, on its own connection: never inside a caller's
transaction, so a marker is committed the moment it is written. On SQLite the same facts
live in the key's lock file instead.
"""

from django.db import models


class KeyState(models.Model):
    # A hash of the key, never the key.
    fingerprint = models.CharField(max_length=16, primary_key=True)
    # Set when a request goes out (to when it cannot still be running), cleared when its
    # answer is in. Found set by the next holder: the request's holder died with it out.
    request_out_until = models.DateTimeField(null=True, blank=True)
    # The provider asked us to wait (Retry-After): nothing is sent with the key before.
    rest_until = models.DateTimeField(null=True, blank=True)
    rest_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"key {self.fingerprint}"
