"""Base settings: one django-environ `env`, every knob documented in the README."""
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

VAR_DIR.mkdir(parents=True, exist_ok=True)
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Production secrets have no default; a development run gets a throwaway key. SECRET_KEY_FILE names a file holding
# the key instead (`make run` generates one under var/ once and keeps it, so sessions survive a restart).
SECRET_KEY = env.str("SECRET_KEY", default="")
_SECRET_KEY_FILE = env.str("SECRET_KEY_FILE", default="")
if not SECRET_KEY and _SECRET_KEY_FILE:
    try:
        SECRET_KEY = Path(_SECRET_KEY_FILE).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"SECRET_KEY_FILE={_SECRET_KEY_FILE!r} cannot be read: {exc.strerror}.") from exc
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a local development run).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "handoff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "handoff.views.context.roles",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite is the embedded default; production sets DATABASE_URL to PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'handoff.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, the worker and beat share one file: WAL lets readers run beside a writer,
    # IMMEDIATE takes the write lock up front so concurrent writers queue instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The reports' covering indexes carry INCLUDE columns for PostgreSQL's index-only reads; SQLite builds the same
    # indexes without them, which is all the embedded default needs: not a warning on every command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's password backend, reading with the session's user their roles, teams, zone and leads to rate (one query
# per page instead of five). Sessions live in the database and, read first, in the shared cache (Redis, or the
# embedded default's files): no session query on a page view.
AUTHENTICATION_BACKENDS = ["handoff.backends.ReaderBackend"]
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Time ---------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email --------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587; the console backend by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="handoff <handoff@localhost>")
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- REST API -----------------------------------------------------------------------------
def _rate(variable: str, default: str) -> str | None:
    """A sign-in limit such as 5/min (per s, min, hour or day); empty: no limit. A typo stops the start here."""
    value = env.str(variable, default=default).strip()
    if value and not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{variable}={value!r}: give a rate such as 5/min or 20/hour (empty: no limit).")
    return value or None


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a request with no credentials gets 401 and a WWW-Authenticate header, not 403.
        "handoff.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, with JSON nested too deep for Python answered as a 400 (handoff/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "handoff.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "handoff.api.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["handoff.api.filters.FilterBackend"],
    # drf-spectacular's, with every error an endpoint can answer documented (handoff/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "handoff.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "handoff.api.errors.exception_handler",
    # The client address of the per-address sign-in limit: 0 = the connection's (REMOTE_ADDR); behind N proxies
    # the N-th address from the right of X-Forwarded-For (the production settings default to 1).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    # Sign-in limits (handoff/throttling.py) on /api/auth/token/ and the login pages: failed attempts per username
    # (per minute, per hour) and per client address, counted in Django's cache.
    "DEFAULT_THROTTLE_RATES": {
        "login_user_burst": _rate("LOGIN_RATE_USER_BURST", "5/min"),
        "login_user_sustained": _rate("LOGIN_RATE_USER_SUSTAINED", "20/hour"),
        "login_address": _rate("LOGIN_RATE_ADDRESS", "20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "handoff API",
    "DESCRIPTION": "Marketing-to-sales lead handoff: leads, handoffs and the rules of engagement.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the sidecar package so the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request and response shapes as separate components: a response never lists a write-only field (a
    # password) as required, a request never a read-only one.
    "COMPONENT_SPLIT_REQUEST": True,
    # One schema component per choice set, however many fields use it.
    "ENUM_NAME_OVERRIDES": {
        "HandoffStateEnum": "handoff.models.handoffs.HandoffState",
        "ActorKindEnum": "handoff.models.handoffs.ActorKind",
        "FeedbackOutcomeEnum": "handoff.models.feedback.FeedbackOutcome",
    },
}

# --- Celery -------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    # kombu's filesystem transport needs no server: the embedded default for `make run`.
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # kombu lists these folders without creating them: the web app, worker and beat would fail on first use.
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = env.str("SCHEDULE_TIME_ZONE", default=TIME_ZONE)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Every periodic job in one place.
CELERY_BEAT_SCHEDULE: dict = {}

# --- Cache --------------------------------------------------------------------------------
# Holds the sign-in limit counters, so it must be shared by every web worker: Redis when REDIS_URL is set, else
# files under VAR_DIR (the embedded default; a process-local cache would give each gunicorn worker its own limits).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "handoff",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Past MAX_ENTRIES the file cache deletes entries at random, counters included: keep it out of reach.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- CRM ----------------------------------------------------------------------------------
CRM_BACKEND = env.str("CRM_BACKEND", default="demo")

# --- CRM sync -----------------------------------------------------------------------------
import zoneinfo  # noqa: E402

from django_celery_beat.tzcrontab import TzAwareCrontab  # noqa: E402

# Lead model field = Salesforce Lead field. Id, OwnerId, IsConverted, ConvertedDate, CreatedDate and
# SystemModstamp are always synced; a mapped field the org lacks is a start-up error naming it.
CRM_FIELD_MAP = env.dict(
    "CRM_FIELD_MAP",
    default={
        "first_name": "FirstName",
        "last_name": "LastName",
        "email": "Email",
        "phone": "Phone",
        "mobile_phone": "MobilePhone",
        "company": "Company",
        "title": "Title",
        "country": "Country",
        "industry": "Industry",
        "lead_source": "LeadSource",
        "status": "Status",
        "score": "Lead_Score__c",
    },
)
# CRM status text = its meaning here (open / working / converted / closed). Read at start, never hard-coded:
# env CRM_STATUS_MAP="Open - Not Contacted=open;Working - Contacted=working;..." (";" since labels hold ",").
CRM_STATUS_MAP = dict(
    item.split("=", 1)
    for item in env.str(
        "CRM_STATUS_MAP",
        default="Open - Not Contacted=open;Working - Contacted=working;"
        "Closed - Converted=converted;Closed - Not Converted=closed",
    ).split(";")
    if item.strip()
)
# The CRM status written back per app action; an action left out does not touch the status.
CRM_WRITEBACK_STATUS = dict(
    item.split("=", 1)
    for item in env.str(
        "CRM_WRITEBACK_STATUS",
        default="accept=Working - Contacted;reject=Closed - Not Converted;recycle=Open - Not Contacted",
    ).split(";")
    if item.strip()
)
# A Lead text field that receives the reject / recycle reason, when the org has it ("" = none).
CRM_REASON_FIELD = env.str("CRM_REASON_FIELD", default="Handoff_Reason__c")
SYNC_INTERVAL_MINUTES = env.int("SYNC_INTERVAL_MINUTES", default=5)
CRM_RECONCILE_TIME = env.str("CRM_RECONCILE_TIME", default="02:00")
CRM_RECONCILE_TIME_ZONE = env.str("CRM_RECONCILE_TIME_ZONE", default=TIME_ZONE)
# The first import of an org qualifies (by the rule) only leads changed in the CRM in this many days; 0 = all.
CRM_IMPORT_QUALIFY_DAYS = env.int("CRM_IMPORT_QUALIFY_DAYS", default=14)
CRM_PAGE_SIZE = env.int("CRM_PAGE_SIZE", default=2000)
# An org holding more leads than this is imported the first time through Bulk API 2.0.
CRM_BULK_THRESHOLD = env.int("CRM_BULK_THRESHOLD", default=2000)
CRM_FETCH_BATCH = env.int("CRM_FETCH_BATCH", default=500)
CRM_WRITEBACK_BATCH = env.int("CRM_WRITEBACK_BATCH", default=200)
CRM_WRITEBACK_MAX_ATTEMPTS = env.int("CRM_WRITEBACK_MAX_ATTEMPTS", default=8)
# Salesforce keeps deletions for getDeleted at most 15 days; older gaps are closed by a reconcile.
CRM_DELETED_WINDOW_DAYS = env.int("CRM_DELETED_WINDOW_DAYS", default=15)
# A sync holds a lease it renews every page; a crashed worker's lease lapses after this many seconds.
CRM_SYNC_LEASE_SECONDS = env.int("CRM_SYNC_LEASE_SECONDS", default=600)

CELERY_BEAT_SCHEDULE["crm-pull"] = {
    "task": "handoff.sync_pull",
    "schedule": SYNC_INTERVAL_MINUTES * 60.0,
    "options": {"expires": SYNC_INTERVAL_MINUTES * 60.0},
}
CELERY_BEAT_SCHEDULE["crm-writeback-retry"] = {"task": "handoff.writeback_flush", "schedule": 60.0}
_reconcile_hour, _reconcile_minute = (int(part) for part in CRM_RECONCILE_TIME.split(":"))
CELERY_BEAT_SCHEDULE["crm-reconcile"] = {
    "task": "handoff.sync_reconcile",
    # A crontab with its own zone (stored as such by django-celery-beat), independent of CELERY_TIMEZONE.
    "schedule": TzAwareCrontab(
        hour=_reconcile_hour, minute=_reconcile_minute, tz=zoneinfo.ZoneInfo(CRM_RECONCILE_TIME_ZONE)
    ),
}

# --- SLA engine ---------------------------------------------------------------------------
SLA_SCAN_INTERVAL_SECONDS = env.int("SLA_SCAN_INTERVAL_SECONDS", default=60)
SLA_NOTIFY_MAX_ATTEMPTS = env.int("SLA_NOTIFY_MAX_ATTEMPTS", default=8)
# The default calendar created by the first migration uses this zone (Mon–Fri 09:00–17:00, no holidays).
SLA_DEFAULT_TIME_ZONE = env.str("SLA_DEFAULT_TIME_ZONE", default=TIME_ZONE)
# A touch may be logged after the fact (reps call first, log later), up to this much of the owner's business time.
TOUCH_BACKDATE_BUSINESS_HOURS = env.int("TOUCH_BACKDATE_BUSINESS_HOURS", default=24)
CELERY_BEAT_SCHEDULE["sla-scan"] = {
    "task": "handoff.sla_scan",
    "schedule": float(SLA_SCAN_INTERVAL_SECONDS),
    "options": {"expires": float(SLA_SCAN_INTERVAL_SECONDS)},
}
# Notices are queued after each scan commits; this picks up retries and anything a crash left behind.
CELERY_BEAT_SCHEDULE["sla-notify"] = {"task": "handoff.sla_send_notifications", "schedule": 60.0}

# --- Routing --------------------------------------------------------------------------------
# Leads are routed the moment they need an owner; this retries the team queues (a rep back, a cap lifted).
ROUTING_INTERVAL_SECONDS = env.int("ROUTING_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["routing-pass"] = {
    "task": "handoff.routing_pass",
    "schedule": float(ROUTING_INTERVAL_SECONDS),
    "options": {"expires": float(ROUTING_INTERVAL_SECONDS)},
}
CELERY_BEAT_SCHEDULE["routing-notify"] = {"task": "handoff.routing_notices_send", "schedule": 60.0}

# --- Sales feedback on lead quality ----------------------------------------------------------
# Feedback points (when a rep is asked) are terms of each SLA policy version; these are the asking and answering.
FEEDBACK_REQUEST_INTERVAL_MINUTES = env.int("FEEDBACK_REQUEST_INTERVAL_MINUTES", default=15)
# The first look for handoffs accepted N business days ago reaches back this far (older ones are not asked about).
FEEDBACK_LOOKBACK_DAYS = env.int("FEEDBACK_LOOKBACK_DAYS", default=14)
# The digest: once per rep and working day, from this local time in the rep's own zone (until three hours later).
FEEDBACK_DIGEST_TIME = env.str("FEEDBACK_DIGEST_TIME", default="09:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", FEEDBACK_DIGEST_TIME):
    raise ImproperlyConfigured(f"FEEDBACK_DIGEST_TIME={FEEDBACK_DIGEST_TIME!r}: expected HH:MM, e.g. 09:00.")
# A request listed in this many digests expires (counts as "not given") at the next.
FEEDBACK_DIGEST_REPEATS = env.int("FEEDBACK_DIGEST_REPEATS", default=2)
FEEDBACK_DIGEST_MAX_ATTEMPTS = env.int("FEEDBACK_DIGEST_MAX_ATTEMPTS", default=8)
# Feedback may be changed this long after it was first given; the digest's one-click links work this long.
FEEDBACK_CHANGE_DAYS = env.int("FEEDBACK_CHANGE_DAYS", default=14)
FEEDBACK_LINK_DAYS = env.int("FEEDBACK_LINK_DAYS", default=14)
CELERY_BEAT_SCHEDULE["feedback-request"] = {
    "task": "handoff.feedback_request",
    "schedule": FEEDBACK_REQUEST_INTERVAL_MINUTES * 60.0,
    "options": {"expires": FEEDBACK_REQUEST_INTERVAL_MINUTES * 60.0},
}
CELERY_BEAT_SCHEDULE["feedback-digest"] = {
    "task": "handoff.feedback_digest",
    # Every quarter hour of UTC is a quarter hour in every zone, so each rep's 09:00 is a run.
    "schedule": TzAwareCrontab(minute="*/15", tz=zoneinfo.ZoneInfo("UTC")),
    "options": {"expires": 15 * 60.0},
}
# Digests are sent after they are written; this picks up retries and anything a crash left behind.
CELERY_BEAT_SCHEDULE["feedback-digest-send"] = {"task": "handoff.feedback_send_digests", "schedule": 60.0}

# --- Manager reports -----------------------------------------------------------------------
# The summary the reports read is refreshed this often (handoffs changed since the last run), and rebuilt whole
# once a night at REPORT_REBUILD_TIME (TIME_ZONE).
REPORT_REFRESH_SECONDS = env.int("REPORT_REFRESH_SECONDS", default=60)
REPORT_REBUILD_TIME = env.str("REPORT_REBUILD_TIME", default="03:00")
# The weekly summary mail: each manager's Monday from this local time (their own zone), about last week.
REPORT_WEEKLY_TIME = env.str("REPORT_WEEKLY_TIME", default="08:00")
for _name, _value in (("REPORT_REBUILD_TIME", REPORT_REBUILD_TIME), ("REPORT_WEEKLY_TIME", REPORT_WEEKLY_TIME)):
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", _value):
        raise ImproperlyConfigured(f"{_name}={_value!r}: expected HH:MM, e.g. 08:00.")
REPORT_WEEKLY_MAX_ATTEMPTS = env.int("REPORT_WEEKLY_MAX_ATTEMPTS", default=8)
# Where the relationship stands (HBR 2006): the thresholds of its criteria.
REPORT_RELATIONSHIP_WEEKS = env.int("REPORT_RELATIONSHIP_WEEKS", default=4)
REPORT_SLA_ATTAINMENT_MIN = env.int("REPORT_SLA_ATTAINMENT_MIN", default=90)
REPORT_FEEDBACK_COVERAGE_MIN = env.int("REPORT_FEEDBACK_COVERAGE_MIN", default=50)
REPORT_DISPUTE_HOURS_MAX = env.int("REPORT_DISPUTE_HOURS_MAX", default=16)
REPORT_TARGET_WEEKS_MIN = env.int("REPORT_TARGET_WEEKS_MIN", default=75)
REPORT_RECYCLED_BACK_MIN = env.int("REPORT_RECYCLED_BACK_MIN", default=10)
REPORT_RECYCLED_BACK_WEEKS = env.int("REPORT_RECYCLED_BACK_WEEKS", default=26)
CELERY_BEAT_SCHEDULE["report-refresh"] = {
    "task": "handoff.reports_refresh",
    "schedule": float(REPORT_REFRESH_SECONDS),
    "options": {"expires": float(REPORT_REFRESH_SECONDS)},
}
_rebuild_hour, _rebuild_minute = (int(part) for part in REPORT_REBUILD_TIME.split(":"))
CELERY_BEAT_SCHEDULE["report-rebuild"] = {
    "task": "handoff.reports_rebuild",
    "schedule": TzAwareCrontab(hour=_rebuild_hour, minute=_rebuild_minute, tz=zoneinfo.ZoneInfo(TIME_ZONE)),
}
CELERY_BEAT_SCHEDULE["report-weekly"] = {
    "task": "handoff.reports_weekly_summary",
    # Every quarter hour of UTC is a quarter hour in every zone, so each manager's Monday 08:00 is a run.
    "schedule": TzAwareCrontab(minute="*/15", tz=zoneinfo.ZoneInfo("UTC")),
    "options": {"expires": 15 * 60.0},
}
# Mails are sent after they are written; this picks up retries and anything a crash left behind.
CELERY_BEAT_SCHEDULE["report-weekly-send"] = {"task": "handoff.reports_send_weekly_summaries", "schedule": 60.0}
