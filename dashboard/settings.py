"""Lifeboat settings: every value comes from the environment, with safe embedded defaults.

The README's "Configuration" section lists every variable read here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list, env_secret, env_str, persistent_secret, secret_env_refusal
from core.roles import ROLES

BASE_DIR = Path(__file__).resolve().parent.parent
# django-ninja's templates and static files (its Swagger page), found without importing it (api/v1.py).
NINJA_DIR = Path(importlib.util.find_spec("ninja").submodule_search_locations[0])
VAR_DIR = Path(env_str("LIFEBOAT_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY") or persistent_secret(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# Behind TLS: redirect plain HTTP and tell browsers to use HTTPS only (HSTS), unless told otherwise.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# /healthz is probed by load balancers over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

INSTALLED_APPS = [
    # Django's admin; the ModelAdmins are registered when the URL conf or the admin checks need them
    "core.admin_config.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Lifeboat, bottom layer first (docs/architecture.md): core <- audit <- backups <- drills <- alerts <- evidence
    "core",
    "audit",
    "sso",  # single sign-on (OIDC) beside local accounts
    "backups",
    "drills",
    "alerts",
    "evidence",
    "dashboard",  # the project shell
    "api",  # the JSON API and its tokens, on top: it drives every app below
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "sso.middleware.ProviderSignOutFormAction",  # after CSP's: its response part runs first
    "django_htmx.middleware.HtmxMiddleware",
    "audit.middleware.AuditActorMiddleware",
    "dashboard.middleware.IdleSessionMiddleware",
    "dashboard.two_factor.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# --- Sign-in -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out user from that address before checking
    "sso.backends.LocalAccountBackend",  # passwords: everyone, or only the break-glass accounts
    "sso.backends.SingleSignOnBackend",  # OpenID Connect, when LIFEBOAT_OIDC_CLIENT_ID is set
]
# Local passwords: "all" (default), or "break-glass" to allow only LIFEBOAT_BREAK_GLASS_USERS once single
# sign-on carries everyday access.
LIFEBOAT_LOCAL_SIGN_IN = env_str("LIFEBOAT_LOCAL_SIGN_IN", "all")
if LIFEBOAT_LOCAL_SIGN_IN not in ("all", "break-glass"):
    raise ImproperlyConfigured("LIFEBOAT_LOCAL_SIGN_IN must be 'all' or 'break-glass'")
LIFEBOAT_BREAK_GLASS_USERS = env_list("LIFEBOAT_BREAK_GLASS_USERS")

# --- Single sign-on (OpenID Connect, mozilla-django-oidc) -------------------------------------------
# The provider: its discovery URL (issuer or .well-known/openid-configuration), or its endpoints one by one.
LIFEBOAT_OIDC_DISCOVERY_URL = env_str("LIFEBOAT_OIDC_DISCOVERY_URL")
LIFEBOAT_OIDC_ENDPOINTS = {
    "issuer": env_str("LIFEBOAT_OIDC_ISSUER"),
    "authorization_endpoint": env_str("LIFEBOAT_OIDC_AUTHORIZATION_ENDPOINT"),
    "token_endpoint": env_str("LIFEBOAT_OIDC_TOKEN_ENDPOINT"),
    "userinfo_endpoint": env_str("LIFEBOAT_OIDC_USERINFO_ENDPOINT"),
    "jwks_uri": env_str("LIFEBOAT_OIDC_JWKS_URI"),
    "end_session_endpoint": env_str("LIFEBOAT_OIDC_END_SESSION_ENDPOINT"),
}
OIDC_RP_CLIENT_ID = env_str("LIFEBOAT_OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env_secret("LIFEBOAT_OIDC_CLIENT_SECRET") or ""
LIFEBOAT_OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID and (LIFEBOAT_OIDC_DISCOVERY_URL or all(
    LIFEBOAT_OIDC_ENDPOINTS[k] for k in ("issuer", "authorization_endpoint", "token_endpoint",
                                         "userinfo_endpoint", "jwks_uri"))))
LIFEBOAT_OIDC_SIGN_IN_LABEL = env_str("LIFEBOAT_OIDC_SIGN_IN_LABEL", "Sign in with single sign-on")
OIDC_RP_SIGN_ALGO = env_str("LIFEBOAT_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("LIFEBOAT_OIDC_SCOPES", "openid email profile")
# Roles: the claim that lists the user's groups at the provider, and which group gives which Lifeboat role
# ("lifeboat-dbas=DBA,lifeboat-leads=Team lead"); re-read at every sign-in.
LIFEBOAT_OIDC_ROLES_CLAIM = env_str("LIFEBOAT_OIDC_ROLES_CLAIM", "groups")
LIFEBOAT_OIDC_ROLE_MAP = env_list("LIFEBOAT_OIDC_ROLE_MAP")
LIFEBOAT_OIDC_USERNAME_CLAIM = env_str("LIFEBOAT_OIDC_USERNAME_CLAIM", "preferred_username")
# API tokens of single sign-on users expire within this many days: the provider is only asked at sign-in.
LIFEBOAT_OIDC_TOKEN_MAX_DAYS = env_int("LIFEBOAT_OIDC_TOKEN_MAX_DAYS", 30)
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # for the provider's sign-out (id_token_hint)
OIDC_TIMEOUT = env_int("LIFEBOAT_OIDC_TIMEOUT_SECONDS", 10)
OIDC_VERIFY_SSL = env_bool("LIFEBOAT_OIDC_VERIFY_TLS", True)
OIDC_OP_LOGOUT_URL_METHOD = "sso.views.provider_logout_url"
OIDC_CREATE_USER = True
# django-axes: LIFEBOAT_LOGIN_FAILURE_LIMIT wrong passwords for one user from one address lock that pair out for
# LIFEBOAT_LOCKOUT_MINUTES; the lockout is one audit event (audit/receivers.py), not one per attempt.
AXES_FAILURE_LIMIT = env_int("LIFEBOAT_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("LIFEBOAT_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address: the socket's peer, or the forwarded address only from a trusted proxy (BEHIND_TLS_PROXY).
AXES_IPWARE_PROXY_COUNT = 1 if BEHIND_TLS_PROXY else None
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if BEHIND_TLS_PROXY else ("REMOTE_ADDR",)

# Sessions end LIFEBOAT_SESSION_HOURS after sign-in, or after LIFEBOAT_SESSION_IDLE_MINUTES without a request
# from a person (the overview's background polling does not count: dashboard/middleware.py).
SESSION_COOKIE_AGE = env_int("LIFEBOAT_SESSION_HOURS", 12) * 3600
LIFEBOAT_SESSION_IDLE_SECONDS = env_int("LIFEBOAT_SESSION_IDLE_MINUTES", 30) * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp) on every response: only Lifeboat's own scripts, styles and images, nothing
# inline. Charts are SVG images in data: URLs (core/charts.py), htmx's indicator style is turned off by the
# htmx-config meta tag in base.html (its rules live in lifeboat.css), and Django's admin needs nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],  # ninja's Swagger page (api/v1.py)
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

# The dashboard's own database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'lifeboat.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the qcluster share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Tests that roll back by reloading the database's content (serialized_rollback) would try to re-save audit
# events, which the trail refuses: events made by migrate (role groups created, permissions assigned) stay out.
TEST_NON_SERIALIZED_APPS = ["audit"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": env_int("LIFEBOAT_PASSWORD_MIN_LENGTH", 12)}},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Two-factor sign-in (dashboard/two_factor): members of these roles must enrol an authenticator before they can
# use anything else, e.g. "Admin,DBA". Anyone may enrol; whoever has one is always asked for a code.
LIFEBOAT_REQUIRE_2FA_ROLES = env_list("LIFEBOAT_REQUIRE_2FA_ROLES")
if unknown := sorted(set(LIFEBOAT_REQUIRE_2FA_ROLES) - set(ROLES)):
    raise ImproperlyConfigured(f"LIFEBOAT_REQUIRE_2FA_ROLES: unknown role(s) {', '.join(unknown)}; "
                               f"the roles are {', '.join(ROLES)}")
OTP_TOTP_ISSUER = "Lifeboat"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# django-ninja's Swagger UI is served from our static files, never from a CDN; ninja is not an installed app, since
# that would load ninja and pydantic into every command (0.2 s at start-up).
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Lifeboat ---------------------------------------------------------------------------------
# Where the default local tier keeps its artifacts (the plan's /backups directory).
LIFEBOAT_BACKUP_ROOT = Path(env_str("LIFEBOAT_BACKUP_ROOT", str(VAR_DIR / "backups")))
# Directory holding pg_dump/pg_restore/pg_dumpall/psql; empty means "search PATH, then /usr/lib/postgresql".
LIFEBOAT_PG_BIN = env_str("LIFEBOAT_PG_BIN", "")
# The only directory a DSN's file options (sslrootcert, sslcert, sslkey, sslcrl, passfile) may name; empty refuses
# them all, so a DSN typed in the admin cannot make the worker read an arbitrary file as a certificate or key.
LIFEBOAT_PG_CERT_DIR = env_str("LIFEBOAT_PG_CERT_DIR", "")
# zstd level for artifacts: 3 is zstd's default and keeps compression faster than pg_dump produces data.
LIFEBOAT_ZSTD_LEVEL = env_int("LIFEBOAT_ZSTD_LEVEL", 3)
# Encryption at rest (age, X25519): artifacts, globals and self-backups are encrypted to every public recipient
# listed (`age1...`, comma-separated: the online key and an offline recovery key); empty means plain copies.
# Hosts that verify or restore read them with the identities (`AGE-SECRET-KEY-1...` lines, old ones kept for
# reading older copies) in LIFEBOAT_ENCRYPTION_IDENTITY_FILE. Never keep that file beside the backups.
LIFEBOAT_ENCRYPTION_RECIPIENTS = env_list("LIFEBOAT_ENCRYPTION_RECIPIENTS")
LIFEBOAT_ENCRYPTION_IDENTITY_FILE = env_str("LIFEBOAT_ENCRYPTION_IDENTITY_FILE", "")
# The globals file (roles, tablespaces) leaves out role password hashes unless asked for, and may carry them only
# when encrypted: a SCRAM hash can be cracked offline by whoever reads the file.
LIFEBOAT_GLOBALS_WITH_PASSWORDS = env_bool("LIFEBOAT_GLOBALS_WITH_PASSWORDS", False)
if LIFEBOAT_GLOBALS_WITH_PASSWORDS and not LIFEBOAT_ENCRYPTION_RECIPIENTS:
    raise ImproperlyConfigured("LIFEBOAT_GLOBALS_WITH_PASSWORDS needs encryption at rest: set "
                               "LIFEBOAT_ENCRYPTION_RECIPIENTS, or role password hashes would be written in plain")
# A job (backup, verification, restore, export) whose heartbeat thread has not written for this long is
# abandoned by the reaper; the thread writes five times per period whatever the job is waiting on.
LIFEBOAT_HEARTBEAT_STALE_SECONDS = env_int("LIFEBOAT_HEARTBEAT_STALE_SECONDS", 300)

# Verification: scratch databases go to LIFEBOAT_VERIFY_DSN (default: each database's own server), a copy held in
# S3 is downloaded (compressed) to LIFEBOAT_VERIFY_TMP (default: the system temp dir), rows load over N streams.
LIFEBOAT_VERIFY_DSN = env_str("LIFEBOAT_VERIFY_DSN", "")
LIFEBOAT_VERIFY_PASSWORD_ENV = env_str("LIFEBOAT_VERIFY_PASSWORD_ENV", "")
# Fields that name an environment variable holding a secret accept LIFEBOAT_* and these names only (core/env.py).
LIFEBOAT_SECRET_ENV_ALLOW = env_list("LIFEBOAT_SECRET_ENV_ALLOW")
if secret_env_refusal(LIFEBOAT_VERIFY_PASSWORD_ENV, LIFEBOAT_SECRET_ENV_ALLOW):
    raise ImproperlyConfigured("LIFEBOAT_VERIFY_PASSWORD_ENV: "
                               + secret_env_refusal(LIFEBOAT_VERIFY_PASSWORD_ENV, LIFEBOAT_SECRET_ENV_ALLOW))
LIFEBOAT_VERIFY_TMP = env_str("LIFEBOAT_VERIFY_TMP", "")
LIFEBOAT_VERIFY_JOBS = env_int("LIFEBOAT_VERIFY_JOBS", 2)
# Limits that protect the servers (backups/engine/slots.py): dumps and restores at once per PostgreSQL server
# (by identity; a ServerLimit row in the admin overrides it for one server) and per tier. 0: no limit.
LIFEBOAT_MAX_JOBS_PER_SERVER = env_int("LIFEBOAT_MAX_JOBS_PER_SERVER", 2)
LIFEBOAT_MAX_JOBS_PER_TIER = env_int("LIFEBOAT_MAX_JOBS_PER_TIER", 8)
for _limit in ("LIFEBOAT_MAX_JOBS_PER_SERVER", "LIFEBOAT_MAX_JOBS_PER_TIER"):
    if globals()[_limit] < 0:
        raise ImproperlyConfigured(f"{_limit}={globals()[_limit]} is negative (0 means no limit)")
LIFEBOAT_VERIFY_AFTER_BACKUP = env_bool("LIFEBOAT_VERIFY_AFTER_BACKUP", True)
# Code inside a backup (CHECK constraints, defaults, index expressions) runs while it is restored: verifications,
# restores and drill restores therefore log in as LIFEBOAT_RESTORE_ROLE (no superuser, no CREATEROLE; created by
# `manage.py setup_database_roles`, its password in the variable named by LIFEBOAT_RESTORE_PASSWORD_ENV). Only a
# verification server declared isolated (LIFEBOAT_VERIFY_ISOLATED, or a Server marked isolated) restores as superuser.
LIFEBOAT_RESTORE_ROLE = env_str("LIFEBOAT_RESTORE_ROLE", "lifeboat_restore")
# On PostgreSQL, the dashboard and workers should log in as LIFEBOAT_RUNTIME_ROLE (setup_database_roles creates it
# in Lifeboat's own database): every table it needs, but only INSERT and SELECT on the audit trail, and it owns
# nothing, so it cannot disable the trail's triggers. Migrations run as the owner (the login that created the
# tables). Its password: the variable named by LIFEBOAT_RUNTIME_PASSWORD_ENV.
LIFEBOAT_RUNTIME_ROLE = env_str("LIFEBOAT_RUNTIME_ROLE", "lifeboat_runtime")
LIFEBOAT_RUNTIME_PASSWORD_ENV = env_str("LIFEBOAT_RUNTIME_PASSWORD_ENV", "LIFEBOAT_RUNTIME_PASSWORD")
LIFEBOAT_RESTORE_PASSWORD_ENV = env_str("LIFEBOAT_RESTORE_PASSWORD_ENV", "LIFEBOAT_RESTORE_PASSWORD")
if secret_env_refusal(LIFEBOAT_RESTORE_PASSWORD_ENV, LIFEBOAT_SECRET_ENV_ALLOW):
    raise ImproperlyConfigured("LIFEBOAT_RESTORE_PASSWORD_ENV: "
                               + secret_env_refusal(LIFEBOAT_RESTORE_PASSWORD_ENV, LIFEBOAT_SECRET_ENV_ALLOW))
LIFEBOAT_VERIFY_ISOLATED = env_bool("LIFEBOAT_VERIFY_ISOLATED", False)

# AWS (S3 and RDS tiers): credentials only from the standard AWS chain. Each call is retried by botocore with
# backoff; a whole S3 upload is tried LIFEBOAT_S3_UPLOAD_ATTEMPTS times, waiting BACKOFF, 2xBACKOFF... between.
LIFEBOAT_AWS_MAX_ATTEMPTS = env_int("LIFEBOAT_AWS_MAX_ATTEMPTS", 5)
LIFEBOAT_AWS_TIMEOUT_SECONDS = env_int("LIFEBOAT_AWS_TIMEOUT_SECONDS", 30)
LIFEBOAT_S3_UPLOAD_ATTEMPTS = env_int("LIFEBOAT_S3_UPLOAD_ATTEMPTS", 3)
LIFEBOAT_S3_BACKOFF_SECONDS = env_int("LIFEBOAT_S3_BACKOFF_SECONDS", 5)
LIFEBOAT_S3_CONCURRENCY = env_int("LIFEBOAT_S3_CONCURRENCY", 4)
# Multipart uploads older than this are aborted by the sweep (no upload of ours runs that long).
LIFEBOAT_S3_STALE_UPLOAD_HOURS = env_int("LIFEBOAT_S3_STALE_UPLOAD_HOURS", 24)

# django-q2: the ORM broker by default, Redis when REDIS_URL is set. A backup task may run for hours:
# its timeout must stay below `retry`, or the broker hands the same backup to a second worker.
_TASK_TIMEOUT = env_int("LIFEBOAT_TASK_TIMEOUT", 6 * 3600)
Q_CLUSTER = {
    # The name prefixes every Redis key of the cluster: installations (or test runs) sharing a Redis keep apart.
    "name": env_str("LIFEBOAT_Q_NAME", "lifeboat"),
    "workers": env_int("LIFEBOAT_WORKERS", 2),
    "timeout": _TASK_TIMEOUT,
    "retry": _TASK_TIMEOUT + 600,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Tasks",
    "sync": env_bool("LIFEBOAT_TASKS_SYNC", False),
}
if env_str("REDIS_URL"):
    Q_CLUSTER["redis"] = env_str("REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

# A cache shared by every process (the API's rate limits): Redis when REDIS_URL is set, else a table in the
# dashboard's database (created by the api app's migration; `manage.py createcachetable` makes it again).
if env_str("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL"),
                          "KEY_PREFIX": "lifeboat"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "lifeboat_cache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- API (README "API") ---------------------------------------------------------------------------
# Personal tokens last at most this many days (the token page offers LIFEBOAT_API_TOKEN_DEFAULT_DAYS).
LIFEBOAT_API_TOKEN_MAX_DAYS = env_int("LIFEBOAT_API_TOKEN_MAX_DAYS", 365)
LIFEBOAT_API_TOKEN_DEFAULT_DAYS = env_int("LIFEBOAT_API_TOKEN_DEFAULT_DAYS", 90)
# Tokens of single sign-on users are capped by LIFEBOAT_OIDC_TOKEN_MAX_DAYS (above, with single sign-on).
# Calls per token per minute, counted in the shared cache; over it: 429 with Retry-After (0: no limit).
LIFEBOAT_API_RATE_LIMIT = env_int("LIFEBOAT_API_RATE_LIMIT", 120)

# --- Alerts and monitoring ----------------------------------------------------------------------
# An open alert is sent again this often while its condition lasts (0: only when it fires and resolves).
LIFEBOAT_ALERT_REPEAT_MINUTES = env_int("LIFEBOAT_ALERT_REPEAT_MINUTES", 240)
# Delivery: attempts per notification, and the first retry delay (doubled after each failure, at most 1 h).
LIFEBOAT_ALERT_MAX_ATTEMPTS = env_int("LIFEBOAT_ALERT_MAX_ATTEMPTS", 5)
LIFEBOAT_ALERT_RETRY_SECONDS = env_int("LIFEBOAT_ALERT_RETRY_SECONDS", 60)
# A retention refusal stays an open alert this long after the last one was reported.
LIFEBOAT_ALERT_EVENT_HOURS = env_int("LIFEBOAT_ALERT_EVENT_HOURS", 24)
# A planned drill is announced on every channel this many hours before it starts.
LIFEBOAT_DRILL_REMINDER_HOURS = env_int("LIFEBOAT_DRILL_REMINDER_HOURS", 48)
# Links in messages: the dashboard's public address, e.g. https://lifeboat.example.com (empty: paths only).
LIFEBOAT_BASE_URL = env_str("LIFEBOAT_BASE_URL", "")
# /metrics answers only `Authorization: Bearer <this>`; unset, it answers 401 to everyone.
LIFEBOAT_METRICS_TOKEN = env_secret("LIFEBOAT_METRICS_TOKEN") or ""
# /healthz fails when the qcluster's heartbeat (written every minute) is older than this.
LIFEBOAT_HEALTHZ_MAX_AGE = env_int("LIFEBOAT_HEALTHZ_MAX_AGE", 180)
# Every log line carries the job's fields (run id, database...); LOG_FORMAT=json prints one JSON object a line.
LOGGING["filters"] = {"job": {"()": "core.joblog.JobContextFilter"}}
LOGGING["formatters"]["plain"]["format"] = "%(asctime)s %(levelname)s %(name)s %(job_fields)s%(message)s"
LOGGING["formatters"]["json"] = {"()": "core.joblog.JsonFormatter"}
LOGGING["handlers"]["console"]["filters"] = ["job"]
if env_str("LOG_FORMAT", "plain") not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={env_str('LOG_FORMAT')!r} is not 'plain' or 'json'")
LOGGING["handlers"]["console"]["formatter"] = env_str("LOG_FORMAT", "plain")

# Audit trail and evidence (README "Audit trail and evidence"). Anchor: where the verified chain head is
# appended (default: a file in the first local tier's directory). Evidence packages are written under
# LIFEBOAT_EVIDENCE_DIR.
LIFEBOAT_AUDIT_ANCHOR_PATH = env_str("LIFEBOAT_AUDIT_ANCHOR_PATH", "")
# Each event also carries an HMAC tag keyed with this secret (or LIFEBOAT_AUDIT_KEY_FILE), kept outside the
# database, so the database's owner cannot rewrite history and recompute it. Unset: events are not tagged.
LIFEBOAT_AUDIT_KEY = env_secret("LIFEBOAT_AUDIT_KEY") or ""
LIFEBOAT_EVIDENCE_DIR = Path(env_str("LIFEBOAT_EVIDENCE_DIR", str(VAR_DIR / "evidence")))
# A minisign secret key (`minisign -G -W`, no password): evidence packages carry SHA256SUMS.txt.minisig. Unset:
# packages are unsigned and say so in their omissions.
LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE = env_str("LIFEBOAT_EVIDENCE_SIGNING_KEY_FILE", "")

# Lifeboat backs itself up (catalog): on PostgreSQL its own database becomes a protected database; on SQLite a
# copy goes to every local and S3 tier after the first scheduled run of a UTC day and before each migration; copies
# younger than LIFEBOAT_SELF_BACKUP_KEEP_DAYS are kept, and always the newest LIFEBOAT_SELF_BACKUP_KEEP.
LIFEBOAT_SELF_BACKUP = env_bool("LIFEBOAT_SELF_BACKUP", True)
LIFEBOAT_SELF_NAME = env_str("LIFEBOAT_SELF_NAME", "lifeboat")
LIFEBOAT_SELF_BACKUP_KEEP = env_int("LIFEBOAT_SELF_BACKUP_KEEP", 14)
LIFEBOAT_SELF_BACKUP_KEEP_DAYS = env_int("LIFEBOAT_SELF_BACKUP_KEEP_DAYS", 30)
# pg_dump of the dashboard's own PostgreSQL database reads its password from this variable, like any protected
# database; when DATABASE_URL carries a password it is copied there, in this process's environment only.
LIFEBOAT_SELF_PASSWORD_ENV = env_str("LIFEBOAT_SELF_PASSWORD_ENV", "LIFEBOAT_DB_PASSWORD")
if DATABASES["default"].get("PASSWORD"):
    import os

    os.environ.setdefault(LIFEBOAT_SELF_PASSWORD_ENV, DATABASES["default"]["PASSWORD"])
