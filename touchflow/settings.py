"""Django settings, driven by environment variables.

Everything a deployment changes comes from ``TOUCHFLOW_*`` variables; per-store
policy (quiet hours, caps, languages) lives in the database, not here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("TOUCHFLOW_VAR_DIR", BASE_DIR.parent / "var"))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("TOUCHFLOW_DEBUG", False)
# The embedded default is a trial on one machine; a real deployment sets its own key.
# The trial key is public (it is in this file), so anything signed with it — unsubscribe
# links, sessions — can be forged: `touchflow serve` refuses to start on it outside
# debug mode (touchflow/core/secrets.py), `touchflow demo` runs on it.
TRIAL_SECRET_KEY = "touchflow-insecure-embedded-default-key"
SECRET_KEY = os.environ.get("TOUCHFLOW_SECRET_KEY") or TRIAL_SECRET_KEY
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("TOUCHFLOW_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("TOUCHFLOW_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

DATABASE_URL = os.environ.get(
    "TOUCHFLOW_DATABASE_URL", f"sqlite:///{VAR_DIR / 'touchflow.sqlite3'}"
)
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web processes read while the worker writes; IMMEDIATE avoids the
    # "database is locked" upgrade deadlock between two writers. Each connection keeps
    # 64 MB of pages: with SQLite's 2 MB default the worker re-read the same pages of a
    # million-customer file again and again (bench/RESULTS.md). No memory map: its pages
    # count in the worker's resident memory (354 MB at a million-touch backlog).
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA cache_size=-65536;"
        ),
    }
else:
    # No JIT: PostgreSQL compiles every statement whose estimated cost passes 100,000,
    # and the dashboard's and the visit list's reads do — 50–110 ms of compiling for a
    # figure read that runs in 30, 2.4 s for the visit list's page (bench/RESULTS.md).
    # The app's statements are short; none of them gains from compiled expressions.
    _options = _db.setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Only for its templates and static files: the API docs page then loads Swagger UI
    # from here instead of a CDN (nothing may reach the internet).
    "ninja",
    "touchflow.stores",
    "touchflow.customers",
    "touchflow.visits",
    "touchflow.purchases",
    "touchflow.timeline",
    "touchflow.integrations",
    "touchflow.flows",
    "touchflow.delivery",
    "touchflow.messaging",
    "touchflow.privacy",
    "touchflow.aftercare",
    "touchflow.health",
    "touchflow.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "touchflow.web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "touchflow.web.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "touchflow.urls"
WSGI_APPLICATION = "touchflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "stores.Staff"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский"), ("pl", "Polski")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = os.environ.get("TOUCHFLOW_TIME_ZONE", "UTC")

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("TOUCHFLOW_STATIC_ROOT", VAR_DIR / "static"))
WHITENOISE_USE_FINDERS = True
# whitenoise serves from the finders in the embedded default; an empty root keeps it quiet.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The Content-Security-Policy is set per response by touchflow.web.middleware.

# Behind HTTPS (a proxy that terminates TLS and sets X-Forwarded-Proto; gunicorn here
# speaks plain HTTP): cookies only over HTTPS, plain HTTP redirected, and browsers told
# to use HTTPS only (HSTS) for a year, this host's subdomains included.
HTTPS = _env_bool("TOUCHFLOW_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
if HTTPS:
    # Trusted only behind the proxy, which must overwrite whatever a client sent.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("TOUCHFLOW_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("TOUCHFLOW_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = _env_bool("TOUCHFLOW_HSTS_PRELOAD", False)
# Asking browsers to preload HSTS commits the whole domain, apex included: that is the
# domain owner's decision, not one host's, so its deploy warning is off unless asked.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TOUCHFLOW_LOG_LEVEL", "WARNING")},
}

# Default region for phone numbers typed without a country code, when the store
# has none of its own.
TOUCHFLOW_DEFAULT_REGION = os.environ.get("TOUCHFLOW_DEFAULT_REGION", "GB")
# How long a counter-screen opt-in QR token stays redeemable.
TOUCHFLOW_OPTIN_TOKEN_TTL_HOURS = int(os.environ.get("TOUCHFLOW_OPTIN_TOKEN_TTL_HOURS", "72"))

# Where touches go: NAME=URL pairs (see touchflow/delivery/channels/registry.py).
# The embedded default has no real provider: nothing leaves the machine until set.
TOUCHFLOW_CHANNELS = os.environ.get("TOUCHFLOW_CHANNELS", "")
TOUCHFLOW_EMAIL_FROM = os.environ.get("TOUCHFLOW_EMAIL_FROM", "Touchflow <touchflow@localhost>")
# The address customers reach this deployment at: unsubscribe links point here.
TOUCHFLOW_PUBLIC_URL = os.environ.get("TOUCHFLOW_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Tokens and the list of active chains are re-read by each process at most this often;
# a revoked token or a paused chain takes effect in other processes within this time.
TOUCHFLOW_CACHE_SECONDS = float(os.environ.get("TOUCHFLOW_CACHE_SECONDS", "10"))
# The longest a warming chain (customers who did not buy) may run, in days: a longer one
# is flagged before it can be activated (flows.checks). Seed 000: no one is chased.
TOUCHFLOW_WARMING_MAX_DAYS = int(os.environ.get("TOUCHFLOW_WARMING_MAX_DAYS", "45"))
# Encrypts provider credentials at rest (touchflow/messaging/crypto.py). Comma-separated,
# newest first; empty derives one from SECRET_KEY (trials only: `check --deploy` warns,
# and `touchflow serve` refuses it while the secret key is the trial one).
TOUCHFLOW_CREDENTIALS_KEY = os.environ.get("TOUCHFLOW_CREDENTIALS_KEY", "")
