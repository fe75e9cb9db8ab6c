"""Settings for suppression_admin, read from the environment.

The variable names are a contract: tools outside the project set them. See README.md.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}.")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)


def installation_secret_key() -> str:
    """A random key made once per installation (var/secret_key), for when SECRET_KEY is unset.

    Production sets SECRET_KEY; this keeps a fresh clone's commands working without one,
    and never falls back to a key that is published in the source.
    """
    path = BASE_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or installation_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "suppression_admin.accounts",
    "suppression_admin.audit",
    "suppression_admin.keys",
    "suppression_admin.jobs",
    "suppression_admin.walead",
    "suppression_admin.woodpecker",
    "suppression_admin.sandbox",
]

MIDDLEWARE = [
    "suppression_admin.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "suppression_admin.accounts.no_store.NoStoreMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # (LoginRequiredMiddleware acts in process_view, after this one has ended a session.)
    "suppression_admin.accounts.sessions.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: it answers a refused sign-in (too many failures) with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "suppression_admin.urls"
WSGI_APPLICATION = "suppression_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "suppression_admin.context_processors.sandbox",
                "suppression_admin.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The app calls its own sandbox over HTTP from another thread: WAL and a busy timeout
    # let those short writes wait for each other instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Our vendored htmx (from the npm package) lives at static/django_htmx/htmx-2.min.js, so
# FileSystemFinder serves it in place of the copy bundled with django-htmx, and
# {% htmx_script %} loads the file we pinned.
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves collectstatic's output, compressed, under hashed names cached for ever
# (in DEBUG, Django serves the plain files instead).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HTTPS=1: the site is served only over HTTPS (by itself or a TLS-terminating proxy):
# redirect to it, secure cookies, HSTS. TLS_PROXY=1: a proxy of ours terminates TLS and says
# so in X-Forwarded-Proto (it must set that header itself, overwriting any from the client).
HTTPS = env_bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS or env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Preloading commits the whole domain to HTTPS in browsers for months: its owners'
    # decision (HSTS_PRELOAD=1), not this app's; the deploy check is told so.
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env_bool("TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The site's own https://host origins, when a proxy makes the Host differ from them.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# Job tasks go to their provider's queue: a worker listens only to the queues of the
# providers it can reach, so a job waits for a worker that can run it.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "walead", "woodpecker"],
    }
}

# One handler, on the root: every line printed once (see suppression_admin.logs).
# LOG_FORMAT=json: one JSON object per line, with the request's id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "suppression_admin.logs.JsonLines"},
    },
    "filters": {
        "ordinary_refusals": {"()": "suppression_admin.logs.OrdinaryRefusals"},
        "no_query_strings": {"()": "suppression_admin.logs.NoQueryStrings"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "plain",
            "filters": ["ordinary_refusals", "no_query_strings"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (in DEBUG) would print each line a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # urllib3 logs full URLs at DEBUG; keep it quiet so nothing request-shaped leaks.
        "urllib3": {"level": "WARNING"},
        # django-axes narrates each sign-in in several INFO lines; its WARNINGs are the
        # events: one line per failed sign-in (with the count), one per lockout.
        "axes": {"level": "WARNING"},
    },
}

# Signs the audit chain's checkpoints (manage.py audit_checkpoint); kept out of the database.
AUDIT_CHECKPOINT_KEY = os.environ.get("AUDIT_CHECKPOINT_KEY", "")

# Personal data kept outside the audit (upload drafts, their address lists and unused-row
# reports, uploads awaiting a column choice) is deleted after this many days
# (manage.py purge_personal_data; every worker runs it daily).
PERSONAL_DATA_RETENTION_DAYS = int(os.environ.get("PERSONAL_DATA_RETENTION_DAYS", "7"))
if PERSONAL_DATA_RETENTION_DAYS < 1:
    # 0 would delete drafts while their operator reads the preview.
    raise ImproperlyConfigured("PERSONAL_DATA_RETENTION_DAYS must be 1 or more.")
# Commands each worker runs once a day while it lives (and when it starts).
WORKER_DAILY_COMMANDS = ["purge_personal_data"]
# Functions each worker's heartbeat calls (beside handing on silent workers' jobs): other
# background work whose worker fell silent is queued again.
WORKER_BEAT_RESCUES = ["suppression_admin.woodpecker.reading.readings_rescue"]

# --- Sign-in and sessions ---------------------------------------------------------------------

# django-axes counts failed sign-ins (both login pages) per username and, apart, per client
# address: after AXES_FAILURE_LIMIT within the cool-off, that name (or address) is refused
# until AXES_COOLOFF_TIME has passed since its last failure. The address is the audit's
# (client_address: TRUSTED_PROXY_COUNT), so a forged X-Forwarded-For changes nothing.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "suppression_admin.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "suppression_admin.accounts.lockout.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_SENSITIVE_PARAMETERS = ["password"]

# Signed out after SESSION_IDLE_SECONDS without activity, and SESSION_ABSOLUTE_SECONDS after
# signing in whatever happens (accounts.sessions).
SESSION_IDLE_SECONDS = int(os.environ.get("SESSION_IDLE_MINUTES", "30")) * 60
SESSION_ABSOLUTE_SECONDS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12")) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS

# How many reverse proxies of ours stand in front of the app (each appends to
# X-Forwarded-For). 0: the client connects directly and REMOTE_ADDR is its address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# --- Providers -------------------------------------------------------------------------------

SUPPRESSION_SANDBOX = env_bool("SUPPRESSION_SANDBOX", default=False)
# Where the running app reaches its own embedded sandbox (it calls it over real HTTP).
SANDBOX_BASE_URL = os.environ.get("SANDBOX_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# The key the sandbox providers accept. Not a secret: the sandbox only holds made-up data.
SANDBOX_API_KEY = os.environ.get("SANDBOX_API_KEY", "sandbox-api-key")

# Empty base URLs mean "the documented default" (see connections.py); setting one explicitly
# also takes that provider out of the sandbox.
WALEAD_API_KEY = os.environ.get("WALEAD_API_KEY", "")
WALEAD_BASE_URL = os.environ.get("WALEAD_BASE_URL", "").rstrip("/")
WOODPECKER_API_KEY = os.environ.get("WOODPECKER_API_KEY", "")
WOODPECKER_BASE_URL = os.environ.get("WOODPECKER_BASE_URL", "").rstrip("/")


def _live(key: str, base_url: str) -> bool:
    return bool(key) and (not SUPPRESSION_SANDBOX or bool(base_url))


if DEBUG and (
    _live(WALEAD_API_KEY, WALEAD_BASE_URL) or _live(WOODPECKER_API_KEY, WOODPECKER_BASE_URL)
):
    # Debug error pages show requests, settings and local variables: never with real keys
    # and real people's data.
    raise ImproperlyConfigured(
        "DEBUG=1 with a live provider key is refused: debug pages would show what they hold. "
        "Unset DEBUG, or use the sandbox (SUPPRESSION_SANDBOX=1, no *_BASE_URL)."
    )

# Ids per WaLead DELETE. The API documents no maximum, so we send bounded chunks.
WALEAD_UNBLOCK_CHUNK_SIZE = int(os.environ.get("WALEAD_UNBLOCK_CHUNK_SIZE", "100"))
# How long a request may wait for its answer. A request whose answer never came keeps its
# key quiet for this long again from when it was given up (it may still be queued or running
# at the provider), and a process that died with a request out, until this long after it
# was sent.
WALEAD_READ_TIMEOUT_SECONDS = float(os.environ.get("WALEAD_READ_TIMEOUT_SECONDS", "20"))
WOODPECKER_READ_TIMEOUT_SECONDS = float(os.environ.get("WOODPECKER_READ_TIMEOUT_SECONDS", "35"))
# How long a web page waits for its turn on a Woodpecker key before saying it is busy.
WOODPECKER_WEB_KEY_WAIT_SECONDS = 8.0
# Where SQLite deployments keep the per-key lock files (see keys.lock).
KEY_LOCK_DIR = Path(os.environ.get("KEY_LOCK_DIR") or BASE_DIR / "var" / "locks")

# --- Background jobs (jobs.engine, jobs.workers) ---------------------------------------------

# Each provider's side of a job (see jobs.senders).
JOB_SENDERS = {
    "walead": "suppression_admin.walead.sender.WaleadSender",
    "woodpecker": "suppression_admin.woodpecker.sender.WoodpeckerSender",
}
# Items per request: Woodpecker takes at most 500 per call.
JOB_CHUNK_SIZES = {"woodpecker": 500, "walead": WALEAD_UNBLOCK_CHUNK_SIZE}
# Attempts per chunk after answers that prove it was not applied (429, 503, no connection).
JOB_MAX_ATTEMPTS = 8
# A job honours Retry-After up to this long; beyond it the job stops (retryable).
JOB_MAX_RETRY_AFTER_SECONDS = 300
# How long a job waits for its key's turn before checking for a cancel and waiting again.
JOB_KEY_WAIT_SECONDS = 30.0
# A worker's heartbeat renews its jobs' leases; a lease that runs out hands the job over.
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", "30"))
# A job's task runs this long, then goes on in a new task (so a worker also serves others).
JOB_SLICE_SECONDS = float(os.environ.get("JOB_SLICE_SECONDS", "20"))
WORKER_HEARTBEAT_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "5"))
# A worker not heard from for this long is shown as gone.
WORKER_SILENT_AFTER_SECONDS = float(os.environ.get("WORKER_SILENT_AFTER_SECONDS", "20"))

# --- Woodpecker bulk removal ---------------------------------------------------------------

WOODPECKER_UPLOAD_MAX_BYTES = int(os.environ.get("WOODPECKER_UPLOAD_MAX_BYTES", 20 * 1024 * 1024))
WOODPECKER_UPLOAD_MAX_ROWS = int(os.environ.get("WOODPECKER_UPLOAD_MAX_ROWS", 1_000_000))
# Workbooks larger than this are read by a worker, with progress (1 MB reads in about a second).
WOODPECKER_BACKGROUND_READ_MIN_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # pasted address lists
