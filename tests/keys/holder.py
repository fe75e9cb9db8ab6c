"""A process that takes turns on a key, for the lock tests (``python -m tests.keys.holder``).

hold FINGERPRINT BUSY_FOR   take the turn, mark a request out for BUSY_FOR s, print
                            "out", then wait to be killed
turns FINGERPRINT NAME N HOLD_MS OUTFILE
                            take N turns, each held HOLD_MS, appending NAME to OUTFILE
"""

import os
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suppression_admin.settings")
    django.setup()
    from suppression_admin.keys.lock import key_turn, request_out

    mode, fingerprint, *rest = sys.argv[1:]
    if mode == "hold":
        with (
            key_turn(fingerprint, provider="Woodpecker", wait_seconds=30),
            request_out(fingerprint, provider="Woodpecker", busy_for=float(rest[0])),
        ):
            print("out", flush=True)
            time.sleep(600)
    elif mode == "turns":
        name, count, hold_ms, outfile = rest[0], int(rest[1]), float(rest[2]), rest[3]
        for _ in range(count):
            with key_turn(fingerprint, provider="Woodpecker", wait_seconds=30):
                with open(outfile, "a") as out:
                    out.write(name)
                time.sleep(hold_ms / 1000)


if __name__ == "__main__":
    main()
