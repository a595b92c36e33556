"""Chargeback settings: one module, driven by the environment.

Unset, everything falls back to an embedded set-up: a SQLite file under ./var and Celery
tasks run in-process. DEBUG is off unless DEBUG=1 (the demo target sets it).
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CHARGEBACK_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    # The web process (wsgi.py) refuses to start without a key. manage.py allows a known,
    # insecure development key so commands such as makemigrations run in a checkout; its
    # "django-insecure-" prefix makes `check --deploy` flag it.
    if not DEBUG and not env.bool("CHARGEBACK_ALLOW_INSECURE_KEY", default=False):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for a local demo."
        )
    SECRET_KEY = "django-insecure-local-development-key-not-for-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "health_check",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "chargeback",
    "chargeback.tenancy",
    "chargeback.audit",
    "chargeback.units",
    "chargeback.notices",
    "chargeback.members",
    "chargeback.pricing",
    "chargeback.usage",
    "chargeback.allocation",
    "chargeback.billing",
    "chargeback.budgets",
    "chargeback.wallets",
    "chargeback.disputes",
    "chargeback.gateway",
    "chargeback.reconciliation",
    "chargeback.provisioning",
    "chargeback.dashboards",
    "chargeback.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chargeback.tenancy.security.SecurityHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "chargeback.tenancy.middleware.TenantMiddleware",
    # Last: turns a refused login (too many failures) into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chargeback.urls"
WSGI_APPLICATION = "chargeback.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chargeback.tenancy.context.tenant",
            ],
            "builtins": [
                "template_partials.templatetags.partials",
                "chargeback.templatetags.perms",
                "chargeback.templatetags.money",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'chargeback.sqlite3'}")
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # PostgreSQL prepares a hot statement (chargeback.sql's plain statements: the gateway's and
    # the ingestion API's) on its connection from its DB_PREPARE_THRESHOLD-th run, then skips
    # parsing and planning it. Django turns this off by default for transaction-mode poolers
    # (PgBouncer before 1.21): set DB_PREPARE_THRESHOLD=0 behind one.
    threshold = env.int("DB_PREPARE_THRESHOLD", default=5)
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", threshold or None)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, chargeback/tenancy/throttle.py): AXES_FAILURE_LIMIT failed
# logins for an account, or from an address, lock it for AXES_COOLOFF_MINUTES; a success resets
# the count. Every login form (ours, the admin's) goes through the first backend.
AUTHENTICATION_BACKENDS = [
    "chargeback.tenancy.throttle.LoginThrottle",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "chargeback.tenancy.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "chargeback.tenancy.throttle.client_address"
# How many reverse proxies in front of gunicorn append the client's address to X-Forwarded-For
# (deploy/README.md: one nginx or Caddy). 0: gunicorn is reached directly (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0 if DEBUG else 1)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Files served at the site's root by WhiteNoise (the favicon), outside the static URL.
WHITENOISE_ROOT = BASE_DIR / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Email: console by default, SMTP (or anything) via EMAIL_URL / EMAIL_BACKEND.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Budget alert webhooks to loopback, private, link-local or reserved addresses (tests only).
CHARGEBACK_WEBHOOK_ALLOW_PRIVATE = env.bool("CHARGEBACK_WEBHOOK_ALLOW_PRIVATE", default=False)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="chargeback@localhost")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Security: secure defaults outside DEBUG (manage.py check --deploy is clean).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy: every script and style is a file under static/ (vendored htmx and
# Plotly included); no inline script, style or event handler anywhere. Permissions-Policy
# turns off the browser features no page uses. Both can be replaced through the environment.
# PLOTLY_INLINE_STYLE: the one <style> element a vendored script inserts: plotly 4.1.1's map stylesheet, at load.
# (Its other rules come from static/vendor/plotly/plotly-4.1.1.css.) Re-hash on an upgrade:
# the browser tests fail on any refused style.
PLOTLY_INLINE_STYLE = "sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o="
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; "
        f"style-src 'self' '{PLOTLY_INLINE_STYLE}'; img-src 'self' data: blob:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
)
PERMISSIONS_POLICY = env.str(
    "PERMISSIONS_POLICY",
    default=(
        "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
        "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
    ),
)
# Idle timeout: a session ends after this many minutes without a request (default 8 hours).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_MINUTES", default=8 * 60) * 60
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
# The OpenAPI schema and its docs need a signed-in user unless API_DOCS_PUBLIC=1.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Celery: with no broker, tasks run in-process (eager), so the demo needs no services.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# The queue tasks and beat's periodic tasks go to (workers consume it): set one per installation
# when several share a Redis database.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "chargeback.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "chargeback.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chargeback API",
    "DESCRIPTION": "Usage ingestion, gateway authorization and exports for AI/LLM chargeback.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if API_DOCS_PUBLIC
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Both are fields named "status": name their enums after what they are.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chargeback.api.schema.document_every_answer",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "chargeback.usage.models.BatchStatus",
        "QuarantineStatusEnum": "chargeback.usage.models.QuarantineStatus",
        # the disputes' "reason" and "state" beside the gateway's (its deny reasons, a
        # reservation's state)
        "DisputeReasonEnum": "chargeback.disputes.models.Reason",
        "DisputeStateEnum": "chargeback.disputes.models.State",
    },
}

INGEST_MAX_BYTES = env.int("INGEST_MAX_BYTES", default=10 * 1024 * 1024)
# The policy preview warns about a markup above this fraction (1 is 100%) and about statements
# totalling more than this many times the month's usage cost.
ALLOCATION_WARN_MARKUP = Decimal(env.str("ALLOCATION_WARN_MARKUP", default="1"))
ALLOCATION_WARN_RATIO = Decimal(env.str("ALLOCATION_WARN_RATIO", default="3"))
DEMO_TRAFFIC_DAYS = env.int("DEMO_TRAFFIC_DAYS", default=90)
INGEST_CHUNK_SIZE = env.int("INGEST_CHUNK_SIZE", default=5000)  # records per committed chunk
# Large NDJSON batches on PostgreSQL are prepared by this many forked processes (1: in-process)
# A batch whose processing fails for a reason that is not a record's (the database is down) is
# tried again after INGEST_RETRY_SECONDS, doubling each time, and marked failed after
# INGEST_MAX_ATTEMPTS tries (it can be retried from its page).
INGEST_MAX_ATTEMPTS = env.int("INGEST_MAX_ATTEMPTS", default=5)
INGEST_RETRY_SECONDS = env.int("INGEST_RETRY_SECONDS", default=15)
INGEST_PREPARERS = env.int("INGEST_PREPARERS", default=2)
INGEST_PREPARERS_MIN_BYTES = env.int("INGEST_PREPARERS_MIN_BYTES", default=16 * 1024 * 1024)
# The stuck-batch sweeper: beat runs it every INGEST_SWEEP_EVERY seconds; it requeues a batch
# with no heartbeat (a committed chunk, or a worker taking it up) for INGEST_STALE_AFTER seconds.
INGEST_SWEEP_EVERY = env.int("INGEST_SWEEP_EVERY", default=30)
INGEST_STALE_AFTER = env.int("INGEST_STALE_AFTER", default=60)
# /health/ fails when the oldest unfinished ingest batch was received longer ago than this.
HEALTH_MAX_BATCH_AGE_MINUTES = env.int("HEALTH_MAX_BATCH_AGE_MINUTES", default=30)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # WeasyPrint logs every rendering step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # axes logs its start-up at INFO in every process; failures and lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# The browser's events export above this many rows is prepared by a worker (a job with a
# progress bar) instead of streamed; its file is kept EXPORT_KEEP_DAYS days.
EXPORT_TASK_THRESHOLD = env.int("EXPORT_TASK_THRESHOLD", default=100_000)
EXPORT_KEEP_DAYS = env.int("EXPORT_KEEP_DAYS", default=7)

CELERY_BEAT_SCHEDULE = {
    "requeue-stuck-ingest-batches": {
        "task": "usage.requeue_stuck_batches",
        "schedule": float(INGEST_SWEEP_EVERY),
    },
    "check-budgets": {"task": "budgets.check_all_budgets", "schedule": 900.0},
    "expire-wallet-reservations": {"task": "wallets.expire_sweep", "schedule": 60.0},
    "post-monthly-wallet-funding": {"task": "wallets.funding_sweep", "schedule": 300.0},
    "finalize-statements": {"task": "disputes.finalize_due_statements", "schedule": 3600.0},
    "clean-exports": {"task": "reconciliation.clean_exports_sweep", "schedule": 3600.0},
}
