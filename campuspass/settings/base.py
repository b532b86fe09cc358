"""Settings shared by every environment. Everything that differs between machines comes from the
environment (see README, "配置")."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CAMPUSPASS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Reverse proxies in front of the app (nginx: 1); 0 trusts only REMOTE_ADDR. See core/net.py.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",  # the gate API's OpenAPI docs, served from its own static files (no CDN)
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "captcha",
    "campuspass.core",
    "campuspass.registry",
    "campuspass.renewals",
    "campuspass.sms",
    "campuspass.payments",
    "campuspass.verification",
    "campuspass.selfservice",
    "campuspass.backoffice",
    "campuspass.gates",
    "campuspass.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # GET /api/gate/v1/check only (exact path): answered here, the rest of the stack has nothing to do
    # for an HMAC-signed machine call (decision 0039, addendum 2). Everything else passes through.
    "campuspass.gates.fastpath.GateCheckMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: only the application's own responses (static files keep their cache).
    "campuspass.core.headers.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Control characters (NUL …) in any query parameter or form field: a Chinese 400, no view runs.
    "campuspass.core.input_guard.ControlCharacterMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The one sign-in perimeter of every door: idle sign-out, forced password change, TOTP step.
    "campuspass.core.perimeter.PerimeterMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused by the lockout into the Chinese sign-in page (429).
    "axes.middleware.AxesMiddleware",
    "campuspass.core.middleware.ChineseErrorPagesMiddleware",
]

ROOT_URLCONF = "campuspass.urls"
WSGI_APPLICATION = "campuspass.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "campuspass" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "campuspass.backoffice.context.backoffice",
            ],
        },
    },
]


# executions of a hot read on one connection before psycopg prepares it (psycopg's own default)
PREPARE_THRESHOLD = 5


def database_config(url: str, environ=os.environ) -> dict:
    """Parse DATABASE_URL; SQLite gets WAL and IMMEDIATE transactions so writers queue instead of
    failing with "database is locked" halfway through a transaction.

    PostgreSQL connections are kept open between requests (`DATABASE_CONN_MAX_AGE` seconds, default
    60; Django checks them before reuse): opening one per request cost more than the request itself
    (issue 13). Behind pgbouncer in transaction mode set `DATABASE_CONN_MAX_AGE=0` and
    `DATABASE_DISABLE_SERVER_SIDE_CURSORS=1`.

    PostgreSQL's JIT compiler is off for our connections (`DATABASE_JIT`, default `off`): it spent
    ~110 ms compiling each large-table query of a screen that then ran in milliseconds (issue 13).
    `on` leaves it on; `server` sends nothing and leaves it to the server's own setting — behind
    pgbouncer, which refuses the `options` startup parameter, use `server` and
    `ALTER DATABASE campuspass SET jit = off`.

    The hot reads (`campuspass.core.compiled.CompiledRead`: the gate check's) are prepared on
    PostgreSQL (`DATABASE_PREPARED`, default `on`): psycopg prepares one after it ran
    `PREPARE_THRESHOLD` times on a connection and PostgreSQL reuses its plan instead of planning it on
    every check (issue 13, decision 0044). Every other statement keeps Django's client-side binding
    and is never prepared: a generic plan of a search (`LIKE %s … ORDER BY … LIMIT`) ran 100 times
    slower than the plan made for its value. `off` prepares nothing; behind pgbouncer in transaction
    mode use `off`, unless pgbouncer is 1.21 or newer with `max_prepared_statements` set."""
    is_sqlite = url.startswith("sqlite:")
    raw_age = environ.get("DATABASE_CONN_MAX_AGE", "").strip()
    if raw_age.lower() in {"none", "forever"}:
        conn_max_age = None
    elif raw_age:
        if not raw_age.isascii() or not raw_age.isdigit():
            raise ImproperlyConfigured(
                f"DATABASE_CONN_MAX_AGE must be a number of seconds or 'none', not {raw_age!r}"
            )
        conn_max_age = int(raw_age)
    else:
        conn_max_age = 0 if is_sqlite else 60
    config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=conn_max_age != 0)
    if environ.get("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "").strip().lower() in {"1", "true", "yes", "on"}:
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    jit = environ.get("DATABASE_JIT", "off").strip().lower() or "off"
    if jit not in {"off", "on", "server"}:
        raise ImproperlyConfigured(f"DATABASE_JIT must be off, on or server, not {jit!r}")
    if config["ENGINE"] == "django.db.backends.postgresql" and jit != "server":
        # added to any `options` the URL gives (?options=-c statement_timeout=…), never replacing them
        options = config.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit={jit}".strip()
    prepared = environ.get("DATABASE_PREPARED", "on").strip().lower() or "on"
    if prepared not in {"on", "off"}:
        raise ImproperlyConfigured(f"DATABASE_PREPARED must be on or off, not {prepared!r}")
    if config["ENGINE"] == "django.db.backends.postgresql" and prepared == "on":
        # Django's own cursors (client-side binding) never prepare whatever the threshold; only
        # CompiledRead's server-binding cursor does (decision 0044)
        config.setdefault("OPTIONS", {})["prepare_threshold"] = PREPARE_THRESHOLD
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'campuspass.sqlite3'}"
DATABASES = {"default": database_config(os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# campuspass.core.cache.RedisCache: Django's backend keeping one redis client per pool (issue 13).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "campuspass.core.cache.RedisCache", "LOCATION": REDIS_URL},
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Progress of long jobs (imports) must be visible to the web process while another process works,
# and must not live inside the job's own database transaction: a file cache by default, Redis when
# configured.
CACHES["progress"] = (
    {
        "BACKEND": "campuspass.core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "progress",
    }
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "progress-cache"),
    }
)

# Sessions (issue 13, decision 0037). With Redis (shared by every worker and host) sessions are
# `cached_db`: a page reads its session from Redis, the database keeps them across a Redis restart
# and is written only when the session changes. Without Redis the per-process memory cache would
# serve a stale session from one worker after another worker changed it, so they stay in the
# database. Pages of a visitor without a session cookie never touch either.
SESSION_ENGINE = "campuspass.core.sessions" if REDIS_URL else "django.contrib.sessions.backends.db"
if REDIS_URL:
    CACHES["sessions"] = {
        "BACKEND": "campuspass.core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "session",
    }
    SESSION_CACHE_ALIAS = "sessions"

# Nonces of signed gate requests (gates/keys.py, decision 0027 addendum): one SET NX EX on the shared
# Redis cache when there is one, else a row in GateNonce (the per-process memory cache would let a
# replay through on another worker).
GATE_NONCE_STORE = "cache" if REDIS_URL else "database"

# The dashboard's numbers are reused while no audited change happened, and for at most this many
# seconds while changes stream in (renewals.selectors_dashboard.cached_campaign_dashboard; issue 13).
DASHBOARD_CACHE_SECONDS = 15

# Background work: the Django tasks API; the database backend needs no extra service. `make run`
# starts `manage.py db_worker` beside the web server.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Sign-in perimeter (campuspass.core.signin, decision 0014) ---------------------------------
# Every authenticate() passes django-axes first: failures are counted per username (5) and per
# address (20); a lock lasts 15 minutes after the last counted failure.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "backoffice:login"
SIGNIN_PASSWORD_URL = "backoffice:password_change"  # noqa: S105 - a URL name
SIGNIN_OTP_URL = "backoffice:otp"
SIGNIN_LOGOUT_URL = "backoffice:logout"
AXES_HANDLER = "campuspass.core.signin.SignInHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = "campuspass.core.signin.failure_limit"
AXES_COOLOFF_TIME = "campuspass.core.signin.cool_off"
AXES_USERNAME_CALLABLE = "campuspass.core.signin.username_key"
AXES_CLIENT_IP_CALLABLE = "campuspass.core.net.client_ip"
AXES_LOCKOUT_CALLABLE = "campuspass.core.signin.lockout_response"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused try does not prolong the lock
AXES_RESET_ON_SUCCESS = False  # SignInHandler clears the username's count only, never the address's
AXES_SENSITIVE_PARAMETERS = ["password", "old_password", "new_password1", "new_password2", "otp_token"]
AXES_VERBOSE = False
AXES_ENABLE_ADMIN = False  # failures and locks are read in the audit log; a lock ends by itself
# TOTP for the roles that change settings or move money (core.roles.SECOND_FACTOR_ROLES).
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "CampusPass 保卫处")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "campuspass" / "static"]
# Front-end libraries from npm (`npm ci`, run by `make run` and CI), served under static/vendor/.
_NODE_MODULES = BASE_DIR / "node_modules"
for _prefix, _folder in (("vendor/weui", "weui/dist/style"), ("vendor/htmx", "htmx.org/dist")):
    if (_NODE_MODULES / _folder).is_dir():
        STATICFILES_DIRS.append((_prefix, _NODE_MODULES / _folder))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    # ID photos: PRIVATE_STORAGE_ROOT/id-photos, 0600 files, no URL (decision 0031).
    "id_photos": {"BACKEND": "campuspass.verification.storage.PrivatePhotoStorage"},
}
# Uploaded files (import files, ID photos) are private: never under a URL served directly.
PRIVATE_STORAGE_ROOT = Path(os.environ.get("PRIVATE_STORAGE_ROOT", VAR_DIR / "private"))
# Behind nginx, ID photos can be sent by nginx itself: the app checks access and audits, then answers
# `X-Accel-Redirect: <prefix><name>` (deploy/nginx: an `internal` location). Empty = the app streams.
# nginx must then read the files: the store makes them readable by its group (0640/0750, the group
# holding only nginx's user besides the app's; README "Running it for real"), otherwise 0600/0700.
ID_PHOTO_X_ACCEL_PREFIX = os.environ.get("ID_PHOTO_X_ACCEL_PREFIX", "")
STORAGES["id_photos"]["OPTIONS"] = {"group_readable": bool(ID_PHOTO_X_ACCEL_PREFIX)}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024))

# Content-Security-Policy (django-csp), in every environment so the browser tests run under it:
# scripts only from this site or inline with the page's nonce (`{{ request.csp_nonce }}`), no
# inline event handlers (backoffice/office.js reads data attributes instead), no plugins, no
# framing, forms only to this site. Inline styles stay allowed (style attributes cannot carry a
# nonce; they cannot run code). Permissions-Policy and no-store: core/headers.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 60 * 60
# Flash messages in the server-side session, not in a cookie: some carry personal data (a revealed
# full phone number), and a signed cookie is readable by anything that sees the request.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # One line per task state change is noise at INFO in the web process and commands; failures still
    # show. (`db_worker` sets its own level from its -v option: INFO in the demo.)
    "loggers": {
        "django_tasks": {"level": os.environ.get("TASKS_LOG_LEVEL", "WARNING")},
        # axes logs usernames and addresses of every attempt; the audit log already has them.
        "axes": {"level": "ERROR"},
    },
}

# --- SMS (campuspass.sms) ---------------------------------------------------------------------
# console | file | locmem | aliyun | tencent (the Django email-backend pattern).
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms.jsonl"))
SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME", "保卫处")
# Vendor settings (only read by their backends): template codes per message kind as JSON,
# e.g. {"otp": "SMS_123", "approved_pickup": "SMS_456", …}.
SMS_TEMPLATE_CODES = os.environ.get("SMS_TEMPLATE_CODES", "{}")
# Fixed words of the registered SMS templates (`manage.py sms_templates` prints them): changing one
# means registering the templates again at the vendor.
SMS_PICKUP_PLACE = os.environ.get("SMS_PICKUP_PLACE", "行政2号楼1层122、123室")
SMS_CONTACT_PHONES = os.environ.get("SMS_CONTACT_PHONES", "82802290、82805604")
# Tencent limits each variable to 12 characters for an organisation account, 6 for a personal one.
SMS_TENCENT_VARIABLE_MAX = int(os.environ.get("SMS_TENCENT_VARIABLE_MAX", "12"))
ALIYUN_SMS_ACCESS_KEY_ID = os.environ.get("ALIYUN_SMS_ACCESS_KEY_ID", "")
ALIYUN_SMS_ACCESS_KEY_SECRET = os.environ.get("ALIYUN_SMS_ACCESS_KEY_SECRET", "")
ALIYUN_SMS_ENDPOINT = os.environ.get("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
TENCENT_SMS_SECRET_ID = os.environ.get("TENCENT_SMS_SECRET_ID", "")
TENCENT_SMS_SECRET_KEY = os.environ.get("TENCENT_SMS_SECRET_KEY", "")
TENCENT_SMS_SDK_APP_ID = os.environ.get("TENCENT_SMS_SDK_APP_ID", "")
TENCENT_SMS_REGION = os.environ.get("TENCENT_SMS_REGION", "ap-guangzhou")

# --- Payments (campuspass.payments) -----------------------------------------------------------
# simulator (default: a local stand-in for WeChat Pay) | wechatpay (WeChat Pay API v3).
PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "simulator")
# The public address of this site, used for notify_url (and by the simulator to reach us).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
WECHATPAY_MCHID = os.environ.get("WECHATPAY_MCHID", "")
WECHATPAY_APPID = os.environ.get("WECHATPAY_APPID", "")
WECHATPAY_APP_SECRET = os.environ.get("WECHATPAY_APP_SECRET", "")  # official account, for OAuth
WECHATPAY_APIV3_KEY = os.environ.get("WECHATPAY_APIV3_KEY", "")
WECHATPAY_CERT_SERIAL_NO = os.environ.get("WECHATPAY_CERT_SERIAL_NO", "")  # merchant API cert
WECHATPAY_PRIVATE_KEY = os.environ.get("WECHATPAY_PRIVATE_KEY", "")  # PEM text or a file path
WECHATPAY_PUBLIC_KEY = os.environ.get("WECHATPAY_PUBLIC_KEY", "")  # platform public key: PEM or path
WECHATPAY_PUBLIC_KEY_ID = os.environ.get("WECHATPAY_PUBLIC_KEY_ID", "")  # "PUB_KEY_ID_…"
WECHATPAY_NOTIFY_TOLERANCE_SECONDS = 300
# How WeChat Pay signs: public_key (微信支付公钥), certificate (平台证书, downloaded by the SDK) or both
# (the changeover). Downloaded certificates are cached in WECHATPAY_PLATFORM_CERT_DIR when set.
WECHATPAY_SIGNATURE_MODE = os.environ.get("WECHATPAY_SIGNATURE_MODE", "public_key")
WECHATPAY_PLATFORM_CERT_DIR = os.environ.get("WECHATPAY_PLATFORM_CERT_DIR", "")
# How the simulator signs its notifications, to try each mode: public_key or certificate.
PAYMENT_SIMULATOR_SIGNATURE_MODE = os.environ.get("PAYMENT_SIMULATOR_SIGNATURE_MODE", "public_key")
# The simulator keeps its generated keys and state here (never in git).
PAYMENT_SIMULATOR_DIR = Path(os.environ.get("PAYMENT_SIMULATOR_DIR", VAR_DIR / "paysim"))
# Fault injection for the simulator: comma-separated of drop, delay, duplicate, reorder, refund_fail.
PAYMENT_SIMULATOR_FAULTS = env_list("PAYMENT_SIMULATOR_FAULTS")
# WeChat Pay makes day D's bill on D+1 morning: it is asked for after this hour (Beijing time).
WECHATPAY_BILL_READY_HOUR = int(os.environ.get("WECHATPAY_BILL_READY_HOUR", "10"))

# Refused notifications: rows kept this many days; an address with this many refusals within the
# window is answered 429 without verification or a row.
PAYMENT_REFUSED_NOTIFICATION_DAYS = int(os.environ.get("PAYMENT_REFUSED_NOTIFICATION_DAYS", "30"))
PAYMENT_NOTIFY_REFUSED_LIMIT = int(os.environ.get("PAYMENT_NOTIFY_REFUSED_LIMIT", "20"))
PAYMENT_NOTIFY_REFUSED_WINDOW_SECONDS = 600

# Seconds between the simulator's notification retries are WeChat's schedule divided by this.
PAYMENT_SIMULATOR_TIME_SCALE = float(os.environ.get("PAYMENT_SIMULATOR_TIME_SCALE", "1"))

# Verified payment and refund notifications are applied by the renewal core.
PAYMENT_NOTIFICATION_HANDLER = "campuspass.renewals.services.payments.apply_payment_notification"
REFUND_NOTIFICATION_HANDLER = "campuspass.renewals.services.payments.apply_refund_notification"

# Periodic jobs (decision 0018): `manage.py run_scheduler` enqueues each task at the times of its
# crontab expression, read in TIME_ZONE (Asia/Shanghai); a worker runs it. A number instead of an
# expression means "every N seconds" and is only for quick functions the scheduler calls itself.
PERIODIC_TASKS = [
    ("campuspass.renewals.tasks.check_unpaid_orders_task", "* * * * *"),  # every minute
    ("campuspass.renewals.tasks.check_refunds_task", "*/5 * * * *"),  # every 5 minutes
    ("campuspass.sms.tasks.retry_failed_sms", "*/5 * * * *"),  # every 5 minutes
    # 待生效 → 使用中 → 已过期 at 00:00 Beijing time, the moment the dates change; the runs at every
    # full hour after it only pick up what midnight missed (decision 0034).
    ("campuspass.renewals.tasks.update_validity_task", "0 * * * *"),
    # Hourly and idempotent (decision 0012): reconciles each day once WeChat Pay's bill is ready
    # (WECHATPAY_BILL_READY_HOUR, Beijing time), retries a bill still being made, catches up missed days.
    ("campuspass.renewals.tasks.reconcile_bills_task", "10 * * * *"),
    ("campuspass.renewals.tasks.purge_id_photos_task", "30 3 * * *"),  # nightly, 03:30
    ("campuspass.verification.tasks.purge_verification_state", "15 4 * * *"),
    ("campuspass.payments.tasks.prune_used_nonces_task", "45 4 * * *"),
    ("campuspass.payments.tasks.purge_refused_notifications_task", "40 4 * * *"),
    ("campuspass.core.housekeeping.prune_task_results", "0 5 * * *"),
    # Task rows left RUNNING by a killed worker (no lease in django-tasks-db) are marked failed; run by
    # the scheduler itself, so it works with every worker dead.
    ("campuspass.core.housekeeping.fail_stale_tasks", "* * * * *"),
    # Gate whitelist pushes due (retries), nightly full comparison with each gate, pruning.
    ("campuspass.gates.tasks.gates_due_task", "* * * * *"),
    ("campuspass.gates.tasks.gates_full_compare_task", "20 2 * * *"),
    ("campuspass.gates.tasks.prune_gate_records_task", "50 4 * * *"),
]
if PAYMENT_PROVIDER == "simulator":  # its notifications and refund settlements, every few seconds
    PERIODIC_TASKS.append(("campuspass.payments.simulator.bank.deliver_due_notifications", 5))

# A form that fails the CSRF check gets a Chinese page saying what to do (templates/403_csrf.html).
CSRF_FAILURE_VIEW = "campuspass.core.views.csrf_failure"

# --- Production: health, metrics, structured logs (issue #12, decision 0020) -------------------
INSTALLED_APPS.append("health_check")
# Outermost: the request id is on every log line of the request, and latency covers everything.
MIDDLEWARE[:0] = [
    "campuspass.core.logcontext.RequestContextMiddleware",
    "campuspass.core.metrics.LatencyMiddleware",
]
# GET /metrics: with a token, Prometheus sends "Authorization: Bearer <token>"; without, loopback only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# collectstatic writes here; nginx serves it (deploy/nginx), so it lives outside the private var dir.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", str(STATIC_ROOT)))
# Readiness fails when the oldest ready task waited longer, or no scheduler enqueued for this long.
HEALTH_QUEUE_LAG_SECONDS = int(os.environ.get("HEALTH_QUEUE_LAG_SECONDS", "300"))
HEALTH_SCHEDULER_STALE_SECONDS = int(os.environ.get("HEALTH_SCHEDULER_STALE_SECONDS", "300"))
# A task row RUNNING for longer than this belongs to a worker that died mid-task: the every-minute
# housekeeping marks it failed (campuspass.core.housekeeping.fail_stale_tasks). Well above the longest
# task (a 100,000-row registry import, the nightly gate comparison: minutes at most).
TASK_STALE_AFTER_SECONDS = int(os.environ.get("TASK_STALE_AFTER_SECONDS", "3600"))
# A refund not finished after this many minutes counts as stuck (metric campuspass_refunds_stuck).
REFUND_STUCK_MINUTES = int(os.environ.get("REFUND_STUCK_MINUTES", "60"))
# Business gauges for /metrics, contributed by the apps that own the data (the core imports nothing above it).
METRICS_COLLECTORS = ["campuspass.renewals.metrics.RenewalCollector"]
# Logs: "plain" (one readable line) or "json" (one JSON object per line, for journald/Loki/ELK).
# Either way each line carries request_id, task_id, task, order_no and out_trade_no, and mobile and
# ID-card numbers are masked.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING["filters"] = {
    "context": {"()": "campuspass.core.logcontext.ContextFilter"},
    "redact": {"()": "campuspass.core.logcontext.RedactFilter"},
}
LOGGING["formatters"] = {
    "plain": {
        "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s task=%(task_id)s "
        "order=%(order_no)s trade=%(out_trade_no)s] %(message)s"
    },
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(task)s "
        "%(order_no)s %(out_trade_no)s",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    },
}
LOGGING["handlers"]["console"] = {
    "class": "logging.StreamHandler",
    "formatter": "json" if LOG_FORMAT == "json" else "plain",
    "filters": ["context", "redact"],
}
LOGGING["loggers"]["apscheduler"] = {"level": "WARNING"}
# The human check in front of an address that asks for many SMS codes (verification/otp.py,
# decision 0022): django-simple-captcha draws the picture itself (bundled font, no outside service).
CAPTCHA_CHALLENGE_FUNCT = "captcha.helpers.math_challenge"
CAPTCHA_MATH_CHALLENGE_OPERATOR = "+"
CAPTCHA_TIMEOUT = 10  # minutes
CAPTCHA_FONT_SIZE = 30
# SMS codes on a shared campus address (decision 0022): the CAPTCHA after this many codes from one
# address within an hour, and the site's daily budget of verification SMS (alert at 80 %).
VERIFICATION_IP_CAPTCHA_AFTER = int(os.environ.get("VERIFICATION_IP_CAPTCHA_AFTER", "10"))
VERIFICATION_DAILY_SMS_BUDGET = int(os.environ.get("VERIFICATION_DAILY_SMS_BUDGET", "3000"))
# Chinese for third-party texts that ship none (the task queue's admin section).
LOCALE_PATHS = [BASE_DIR / "campuspass" / "locale"]
