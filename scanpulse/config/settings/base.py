"""Settings shared by every way of running scanpulse, read from the environment.

``REDIS_URL`` decides the topology: unset means embedded (in-memory event bus, in-process scan
workers); set means production backends (Redis event bus, Celery workers).
"""

from __future__ import annotations

from pathlib import Path

from scanpulse.analyzers.registry import DEFAULT_ANALYZERS

from .environment import *  # noqa: F403
from .environment import DATA_DIR, DEBUG, EMBEDDED, REDIS_URL, env

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from this origin (no CDN, strict CSP)
    "django_celery_beat",  # schedules' periodic tasks, read by production's `celery beat`
    "scanpulse.core",
    "scanpulse.audit",
    "scanpulse.tenancy",
    "scanpulse.credentials",
    "scanpulse.projects",
    "scanpulse.alerts",
    "scanpulse.scans",
    "scanpulse.advisories",
    "scanpulse.events",
    "scanpulse.integrations",
    "scanpulse.notifications",
    "scanpulse.schedules",
    "scanpulse.feeds",
    "scanpulse.web",
    "scanpulse.server",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one: every page, error pages of the middleware below included, gets the
    # Content-Security-Policy, frame denial, nosniff and the referrer policy.
    "scanpulse.web.middleware.ContentSecurityPolicyMiddleware",
    # Above WhiteNoise: its files (and any other synchronously streamed body) are sent with an
    # asynchronous iterator, as the ASGI server needs.
    "scanpulse.core.middleware.AsyncStreamingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scanpulse.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "scanpulse.audit.context.AuditAddressMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "scanpulse.web.middleware.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scanpulse.config.urls"
ASGI_APPLICATION = "scanpulse.config.asgi.application"

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

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'scanpulse.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the in-process workers write; IMMEDIATE avoids
    # "database is locked" upgrades from read to write transactions.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise serves from the app folders until collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# A refused CSRF token gets the site's error page (JSON under /api/), not Django's inline-styled one.
CSRF_FAILURE_VIEW = "scanpulse.web.errors.csrf_failure"

# Request bodies: the API accepts small JSON documents only.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("SCANPULSE_MAX_BODY_BYTES", default=256 * 1024)
SCANPULSE_MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
# The largest webhook payload accepted from a repository host (a push of many commits is
# larger than any API request); larger ones are refused with 400 before being read.
SCANPULSE_WEBHOOK_MAX_BYTES = env.int("SCANPULSE_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# Paths that cap their request bodies themselves (the request size middleware skips them).
SCANPULSE_OWN_BODY_LIMIT_PATHS = ("/hooks/",)
# The largest SARIF report that may be uploaded (POST /api/projects/{id}/sarif and the project
# page's form); larger ones are answered 413.
SCANPULSE_SARIF_MAX_BYTES = env.int("SCANPULSE_SARIF_MAX_BYTES", default=10 * 1024**2)
# The largest CycloneDX SBOM that may be uploaded as a scan's source (POST /api/projects/{id}/sbom);
# larger ones are answered 413.
SCANPULSE_SBOM_MAX_BYTES = env.int("SCANPULSE_SBOM_MAX_BYTES", default=10 * 1024**2)
# Routes whose bodies may be larger than SCANPULSE_MAX_BODY_BYTES, by path pattern: the
# document itself plus room for a multipart form around it.
SCANPULSE_LARGE_BODY_ROUTES = (
    (r"^/(api/)?projects/[0-9a-fA-F-]{36}/sarif/?$", SCANPULSE_SARIF_MAX_BYTES + 64 * 1024),
    (r"^/api/projects/[0-9a-fA-F-]{36}/sbom/?$", SCANPULSE_SBOM_MAX_BYTES + 64 * 1024),
)
# JSON bodies nested deeper than this are refused with a 400 before they are decoded.
SCANPULSE_MAX_JSON_DEPTH = env.int("SCANPULSE_MAX_JSON_DEPTH", default=32)

# Rate limits (``N/period``: 600/minute, 5/15m; empty = off), counted in the cache below.
SCANPULSE_THROTTLE_RATES = {
    # API requests per token (or per browser session's user), and per client address.
    "token": env.str("SCANPULSE_THROTTLE_TOKEN_RATE", default="600/minute"),
    "ip": env.str("SCANPULSE_THROTTLE_IP_RATE", default="1200/minute"),
    # Failed token authentications per address; beyond, 429 before any lookup.
    "auth_failures": env.str("SCANPULSE_THROTTLE_AUTH_FAILURE_RATE", default="30/minute"),
    # Failed sign-ins per account and address, and per address across accounts.
    "login_failures": env.str("SCANPULSE_LOGIN_FAILURE_RATE", default="5/15m"),
    "login_address_failures": env.str("SCANPULSE_LOGIN_ADDRESS_FAILURE_RATE", default="50/15m"),
    # Wrong two-factor codes per account (whatever the address).
    "two_factor_failures": env.str("SCANPULSE_TWO_FACTOR_FAILURE_RATE", default="5/15m"),
    # Password reset requests per address, and per email address asked about.
    "password_reset": env.str("SCANPULSE_PASSWORD_RESET_RATE", default="5/h"),
}
# Embedded: one process, counts in its memory. With REDIS_URL every web process shares the
# counts through Redis.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "scanpulse"}
        if EMBEDDED
        else {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "scanpulse",
            "TIMEOUT": 300,
            # A slow or absent Redis must not hang requests (limits then fail open).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "scanpulse.tenancy.authentication.BearerTokenAuthentication",
        "scanpulse.tenancy.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "scanpulse.tenancy.authentication.ReadScopeWritesNothing",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["scanpulse.core.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "scanpulse.core.throttling.TokenRateThrottle",
        "scanpulse.core.throttling.IPRateThrottle",
    ],
    # The address is REMOTE_ADDR, which the server sets from X-Forwarded-For only for
    # trusted proxies (SCANPULSE_FORWARDED_ALLOW_IPS); never the client's own header.
    "NUM_PROXIES": 0,
    "DEFAULT_PAGINATION_CLASS": "scanpulse.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "scanpulse.core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]

SPECTACULAR_SETTINGS = {
    "TITLE": "scanpulse API",
    "DESCRIPTION": "Projects, scans, findings and live scan progress.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every documented operation also documents the errors it can answer, in the one shape.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scanpulse.core.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ScanStatusEnum": "scanpulse.scans.models.ScanStatus",
        "FindingStatusEnum": "scanpulse.scans.models.FindingStatus",
        "SeverityEnum": "scanpulse.scans.models.Severity",
        "ConfidenceEnum": "scanpulse.scans.models.Confidence",
        "DismissalReasonEnum": "scanpulse.alerts.models.DismissalReason",
        "TriageActionKindEnum": "scanpulse.alerts.models.TriageAction.Kind",
        "BulkTriageActionEnum": "scanpulse.alerts.services.BULK_ACTIONS",
        "CredentialKindEnum": "scanpulse.credentials.models.CredentialKind",
        # The severities a gate can fail on (all but info): --fail-on and a project's policy.
        "GateSeverityEnum": "scanpulse.pipeline.coverage.GATE_SEVERITIES",
        # An alert's state keeps the name it had before deliveries had a state too.
        "StateEnum": "scanpulse.alerts.selectors.SHOWN_STATES",
        "WebhookDeliveryStateEnum": "scanpulse.notifications.models.DeliveryState",
        "WebhookEventEnum": "scanpulse.notifications.events.EVENTS",
        "WebhookFormatEnum": "scanpulse.notifications.events.Format",
        "ScheduleKindEnum": "scanpulse.schedules.models.ScheduleKind",
        "IntervalPeriodEnum": "scanpulse.schedules.models.IntervalPeriod",
        "ScheduleOutcomeEnum": "scanpulse.schedules.models.RunOutcome",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Bandit's optional SARIF formatter needs a package we do not use; stevedore reports
        # its absence as an error at every import.
        "stevedore.extension": {"level": "CRITICAL"},
    },
}

# --- scanpulse ---------------------------------------------------------------------------

SCANPULSE_EVENT_BUS = env.str(
    "SCANPULSE_EVENT_BUS",
    default="scanpulse.events.memory.MemoryEventBus"
    if EMBEDDED
    else "scanpulse.events.redis.RedisEventBus",
)
SCANPULSE_SCAN_EXECUTOR = env.str(
    "SCANPULSE_SCAN_EXECUTOR",
    default="scanpulse.scans.executors.inprocess.InProcessExecutor"
    if EMBEDDED
    else "scanpulse.scans.executors.celery.CeleryExecutor",
)
# The paths of releases before the executors had modules of their own still work.
SCANPULSE_SCAN_EXECUTOR = {
    "scanpulse.scans.executors.InProcessExecutor": (
        "scanpulse.scans.executors.inprocess.InProcessExecutor"
    ),
    "scanpulse.scans.executors.CeleryExecutor": "scanpulse.scans.executors.celery.CeleryExecutor",
}.get(SCANPULSE_SCAN_EXECUTOR, SCANPULSE_SCAN_EXECUTOR)
# The Celery application that slot requests are sent through and workers run.
SCANPULSE_CELERY_APP = "scanpulse.config.celery_app.app"
SCANPULSE_WORKER_CONCURRENCY = env.int("SCANPULSE_WORKER_CONCURRENCY", default=2)
# Scans one organization may have waiting for a worker; beyond, new ones get 429 (0 = no limit).
SCANPULSE_MAX_PENDING_SCANS_PER_ORG = env.int("SCANPULSE_MAX_PENDING_SCANS_PER_ORG", default=100)

# Repositories: which transports a project may use.
SCANPULSE_ALLOW_LOCAL_REPOS = env.bool("SCANPULSE_ALLOW_LOCAL_REPOS", default=EMBEDDED)
SCANPULSE_REPO_SCHEMES = env.list("SCANPULSE_REPO_SCHEMES", default=["https", "ssh"])
# Where local repositories may lie: absolute directories, ``{org}`` standing for an
# organization's id. A root with ``{org}`` is that organization's alone; one without is shared
# by every organization. Embedded: each organization's directory in the data directory's
# ``repositories`` (the demo's sample repository is created there).
SCANPULSE_LOCAL_REPO_ROOTS = env.list(
    "SCANPULSE_LOCAL_REPO_ROOTS",
    default=[str(DATA_DIR / "repositories" / "{org}")] if EMBEDDED else [],
)
# Refuse local repositories in or around the data directory, the work directory and the
# installation. The command line's local mode turns this off: it scans its user's own
# directories, as that user.
SCANPULSE_PROTECT_SERVER_DIRS = env.bool("SCANPULSE_PROTECT_SERVER_DIRS", default=True)
# Hosts a worker may fetch from besides public addresses: networks in CIDR notation
# (10.0.0.0/8, fd00::/8) and host names (git.internal). Cloud metadata addresses stay refused.
SCANPULSE_GIT_ALLOWED_NETWORKS = env.list("SCANPULSE_GIT_ALLOWED_NETWORKS", default=[])
# A file of CA certificates (PEM) git trusts for HTTPS instead of the system's: for a git host
# with a certificate of an internal CA. Empty: the system's trust store.
SCANPULSE_GIT_CA_BUNDLE = env.str("SCANPULSE_GIT_CA_BUNDLE", default="")
SCANPULSE_CLONE_TIMEOUT = env.int("SCANPULSE_CLONE_TIMEOUT", default=300)
SCANPULSE_CLONE_MAX_BYTES = env.int("SCANPULSE_CLONE_MAX_BYTES", default=2 * 1024**3)
SCANPULSE_CLONE_MAX_FILES = env.int("SCANPULSE_CLONE_MAX_FILES", default=100_000)
SCANPULSE_MAX_FILE_BYTES = env.int("SCANPULSE_MAX_FILE_BYTES", default=10 * 1024**2)
SCANPULSE_WORK_DIR = Path(env.str("SCANPULSE_WORK_DIR", default=str(DATA_DIR / "work")))

# Analyzers: dotted paths, plus the ``scanpulse.analyzers`` entry-point group.
# The default list is the registry's (bandit, secrets, dependencies, checkov, the rule pack).
SCANPULSE_ANALYZERS = env.list("SCANPULSE_ANALYZERS", default=list(DEFAULT_ANALYZERS))
# The Checkov executable of the checkov analyzer; empty: the one `make` installs in the
# virtualenv's tools/checkov, else `checkov` on PATH.
SCANPULSE_CHECKOV = env.str("SCANPULSE_CHECKOV", default="")
# A folder of the organization's own Semgrep rule files (*.yaml, *.yml), run with the rule pack.
SCANPULSE_RULE_PACK_DIR = env.str("SCANPULSE_RULE_PACK_DIR", default="")
# Directories to import analyzer plugins from when they are not installed as packages.
SCANPULSE_ANALYZER_PATHS = env.list("SCANPULSE_ANALYZER_PATHS", default=[])
# Options per analyzer, as JSON: {"bandit": {...}, "paced": {"seconds_per_file": 0.5}}.
SCANPULSE_ANALYZER_OPTIONS: dict[str, dict[str, object]] = env.json(
    "SCANPULSE_ANALYZER_OPTIONS", default={}
)
SCANPULSE_ANALYZER_TIMEOUT = env.int("SCANPULSE_ANALYZER_TIMEOUT", default=1800)
SCANPULSE_ANALYZER_CPU_SECONDS = env.int("SCANPULSE_ANALYZER_CPU_SECONDS", default=3600)
SCANPULSE_ANALYZER_MEMORY_MB = env.int("SCANPULSE_ANALYZER_MEMORY_MB", default=2048)
SCANPULSE_ANALYZER_WORKERS = env.int("SCANPULSE_ANALYZER_WORKERS", default=0)  # 0 = all cores
# The key secrets found in code are identified with; empty = derived from SECRET_KEY. Set it to
# keep identities (new / unchanged / fixed) of secret findings across a SECRET_KEY rotation.
SCANPULSE_SECRET_ID_KEY = env.str("SCANPULSE_SECRET_ID_KEY", default="")
# More findings than this fail the scan: a runaway tool must not exhaust the worker.
SCANPULSE_MAX_FINDINGS = env.int("SCANPULSE_MAX_FINDINGS", default=200_000)

# The audit log: entries older than this many days are removed by housekeeping (0 keeps all).
SCANPULSE_AUDIT_RETENTION_DAYS = env.int("SCANPULSE_AUDIT_RETENTION_DAYS", default=365)

# Mail (invitations, password resets) through Django's email backend: SMTP when EMAIL_HOST
# is set, else the console (the message goes to the server's log).
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="scanpulse <scanpulse@localhost>")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
# How long a password reset link stays valid; it is single use (the password changes).
PASSWORD_RESET_TIMEOUT = env.int("SCANPULSE_PASSWORD_RESET_TIMEOUT", default=3600)
# How long an invitation link stays valid.
SCANPULSE_INVITATION_DAYS = env.int("SCANPULSE_INVITATION_DAYS", default=7)

# Event log and streams.
SCANPULSE_EVENT_RETENTION_SECONDS = env.int("SCANPULSE_EVENT_RETENTION_SECONDS", default=86400)
SCANPULSE_SSE_HEARTBEAT_SECONDS = env.float("SCANPULSE_SSE_HEARTBEAT_SECONDS", default=15.0)
SCANPULSE_SSE_RETRY_MS = env.int("SCANPULSE_SSE_RETRY_MS", default=2000)
SCANPULSE_SSE_MAX_LIFETIME_SECONDS = env.float("SCANPULSE_SSE_MAX_LIFETIME_SECONDS", default=3600)
SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS = env.float("SCANPULSE_SSE_WRITE_TIMEOUT_SECONDS", default=10)
SCANPULSE_STREAMS_PER_ORG = env.int("SCANPULSE_STREAMS_PER_ORG", default=1000)
SCANPULSE_PROGRESS_MIN_INTERVAL = env.float("SCANPULSE_PROGRESS_MIN_INTERVAL", default=0.1)
SCANPULSE_STREAM_SLOTS = env.str(
    "SCANPULSE_STREAM_SLOTS",
    default="scanpulse.events.slots.MemoryStreamSlots"
    if EMBEDDED
    else "scanpulse.events.slots.RedisStreamSlots",
)
SCANPULSE_STREAM_LEASE_SECONDS = env.float("SCANPULSE_STREAM_LEASE_SECONDS", default=30.0)
# How long a stream's principal is cached, and how often each process checks the access of its
# open streams again: lost access (however it was lost) ends them within about this, and 5 s.
SCANPULSE_STREAM_RECHECK_SECONDS = env.float("SCANPULSE_STREAM_RECHECK_SECONDS", default=2.0)
SCANPULSE_SSE_RING_SIZE = env.int("SCANPULSE_SSE_RING_SIZE", default=256)
SCANPULSE_FORWARDED_ALLOW_IPS = env.str("SCANPULSE_FORWARDED_ALLOW_IPS", default="127.0.0.1")
# Who may read /metrics: this machine only, unless the operator names the scraper's network
# (a proxy or load balancer whose forwarded header is not trusted arrives from a private
# address: allowing private networks by default would publish the figures through it).
SCANPULSE_METRICS_ALLOW_IPS = env.list(
    "SCANPULSE_METRICS_ALLOW_IPS", default=["127.0.0.0/8", "::1"]
)
SCANPULSE_SERVER_LOG_LEVEL = env.str("SCANPULSE_SERVER_LOG_LEVEL", default="info")
SCANPULSE_ACCESS_LOG = env.bool("SCANPULSE_ACCESS_LOG", default=False)
SCANPULSE_SCAN_ATTEMPTS = env.int("SCANPULSE_SCAN_ATTEMPTS", default=3)
SCANPULSE_CANCEL_POLL_SECONDS = env.float("SCANPULSE_CANCEL_POLL_SECONDS", default=1.0)

# --- production workers (Celery) -----------------------------------------------------------
# A scan is acknowledged only when it ends, and redelivered if its worker dies; scans are long,
# so each worker takes one at a time. The visibility timeout must exceed the longest scan, or
# Redis would hand a running scan to a second worker (which would then see its heartbeat and
# leave it alone, but only after wasting a slot).
SCANPULSE_SCAN_TIME_LIMIT = env.int("SCANPULSE_SCAN_TIME_LIMIT", default=3 * 3600)
CELERY_BROKER_URL = env.str("SCANPULSE_BROKER_URL", default="") or REDIS_URL or "memory://"
# The queue scans wait in: one per deployment when several share a broker.
CELERY_TASK_DEFAULT_QUEUE = env.str("SCANPULSE_QUEUE", default="scanpulse")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# No results are kept, so none expire: celery beat adds no daily cleanup task of its own.
CELERY_RESULT_EXPIRES = None
CELERY_TASK_SOFT_TIME_LIMIT = SCANPULSE_SCAN_TIME_LIMIT + 60
CELERY_TASK_TIME_LIMIT = SCANPULSE_SCAN_TIME_LIMIT + 120
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": SCANPULSE_SCAN_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# Liveness: running scans heartbeat; one without a heartbeat for this long lost its worker.
SCANPULSE_HEARTBEAT_TIMEOUT_SECONDS = env.float("SCANPULSE_HEARTBEAT_TIMEOUT_SECONDS", default=30.0)
# A scan queued this long without starting is queued again (its message may have been lost).
SCANPULSE_REQUEUE_PENDING_SECONDS = env.float("SCANPULSE_REQUEUE_PENDING_SECONDS", default=300.0)
SCANPULSE_HOUSEKEEPING_SECONDS = env.float("SCANPULSE_HOUSEKEEPING_SECONDS", default=10.0)

# Outbound webhooks (docs/integrations.md): who attempts deliveries (a thread pool in the
# embedded server, Celery workers in production), their retries and when an endpoint is
# disabled.
SCANPULSE_WEBHOOK_DISPATCHER = env.str(
    "SCANPULSE_WEBHOOK_DISPATCHER",
    default="scanpulse.notifications.dispatchers.inprocess.InProcessDispatcher"
    if EMBEDDED
    else "scanpulse.notifications.dispatchers.celery.CeleryDispatcher",
)
SCANPULSE_WEBHOOK_CONCURRENCY = env.int("SCANPULSE_WEBHOOK_CONCURRENCY", default=2)
SCANPULSE_WEBHOOK_TIMEOUT_SECONDS = env.float("SCANPULSE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
SCANPULSE_WEBHOOK_MAX_ATTEMPTS = env.int("SCANPULSE_WEBHOOK_MAX_ATTEMPTS", default=8)
SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS = env.float(
    "SCANPULSE_WEBHOOK_RETRY_BASE_SECONDS", default=60.0
)
SCANPULSE_WEBHOOK_RETRY_MAX_SECONDS = env.float(
    "SCANPULSE_WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600.0
)
# Failed attempts in a row after which an endpoint is disabled (0: never).
SCANPULSE_WEBHOOK_DISABLE_AFTER = env.int("SCANPULSE_WEBHOOK_DISABLE_AFTER", default=20)
# How late a due attempt must be before housekeeping hands it out again (its timer or message
# normally comes first).
SCANPULSE_WEBHOOK_SWEEP_GRACE_SECONDS = env.float(
    "SCANPULSE_WEBHOOK_SWEEP_GRACE_SECONDS", default=15.0
)
# The OSV advisory feed (docs/dependencies.md#advisory-data): `<base>/<ecosystem>/all.zip` for
# each ecosystem, synced every SCANPULSE_OSV_SYNC_INTERVAL_HOURS (production: celery beat; the
# embedded server: at start, then at that interval; 0 turns the automatic sync off).
SCANPULSE_OSV_BASE_URL = env.str(
    "SCANPULSE_OSV_BASE_URL", default="https://osv-vulnerabilities.storage.googleapis.com"
)
SCANPULSE_OSV_ECOSYSTEMS = env.list(
    "SCANPULSE_OSV_ECOSYSTEMS",
    default=["PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems", "NuGet", "Packagist"],
)
SCANPULSE_OSV_SYNC_INTERVAL_HOURS = env.int("SCANPULSE_OSV_SYNC_INTERVAL_HOURS", default=24)
# A file of CA certificates (PEM) trusted for the feed instead of the system's (a mirror with
# an internal CA). Empty: the system's trust store.
SCANPULSE_OSV_CA_BUNDLE = env.str("SCANPULSE_OSV_CA_BUNDLE", default="")
# Plain http:// feed URLs are refused unless this is true (a mirror on a trusted network).
SCANPULSE_OSV_ALLOW_HTTP = env.bool("SCANPULSE_OSV_ALLOW_HTTP", default=False)
SCANPULSE_OSV_TIMEOUT_SECONDS = env.float("SCANPULSE_OSV_TIMEOUT_SECONDS", default=60.0)
# One export's download, and what its records may take once decompressed.
SCANPULSE_OSV_MAX_BYTES = env.int("SCANPULSE_OSV_MAX_BYTES", default=1024**3)
SCANPULSE_OSV_MAX_UNCOMPRESSED_BYTES = env.int(
    "SCANPULSE_OSV_MAX_UNCOMPRESSED_BYTES", default=8 * 1024**3
)
# Embedded mode: how often the server looks for due schedules (production: celery beat).
SCANPULSE_SCHEDULE_TICK_SECONDS = env.float("SCANPULSE_SCHEDULE_TICK_SECONDS", default=5.0)
# Database outages shorter than this only delay a scan's events.
SCANPULSE_DB_RETRY_SECONDS = env.float("SCANPULSE_DB_RETRY_SECONDS", default=15.0)
SCANPULSE_CACHE_DAYS = env.int("SCANPULSE_CACHE_DAYS", default=30)

from .sso import *  # noqa: E402, F403
