"""Settings for the test suite: the real settings, made independent of the caller's shell."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# A developer's real keys must never reach a test, nor a test reach a real provider.
for name in ("WALEAD_API_KEY", "WALEAD_BASE_URL", "WOODPECKER_API_KEY", "WOODPECKER_BASE_URL"):
    os.environ.pop(name, None)
os.environ["SUPPRESSION_SANDBOX"] = "0"

from suppression_admin.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The test server serves static files itself; WhiteNoise would only warn that there is no
# collectstatic output.
MIDDLEWARE = [m for m in MIDDLEWARE if m != "whitenoise.middleware.WhiteNoiseMiddleware"]  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # Worker processes in the end-to-end tests must see the test database: a file, not memory.
    # One file per test run, so runs side by side never share it; Django deletes it after.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")  # noqa: F405
    }
