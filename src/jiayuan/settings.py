"""Django settings for Jiayuan.

Configuration comes only from environment variables (see docs/deploy.md); the same
code runs the embedded profile (SQLite + Huey on SQLite) and the production profile
(PostgreSQL + Huey on Redis).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path(os.environ.get("JIAYUAN_HOME", Path.cwd()))
VAR_DIR = Path(os.environ.get("JIAYUAN_VAR_DIR", PROJECT_DIR / "var"))

DEFAULT_SECRET_KEY = "jiayuan-insecure-development-key"  # noqa: S105
DEFAULT_PII_KEY = "amlheXVhbi1kZW1vLXBpaS1rZXktMzItYnl0ZXMhISE="  # base64 of a demo key

ENVIRONMENT = os.environ.get("JIAYUAN_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"

SECRET_KEY = os.environ.get("JIAYUAN_SECRET_KEY", DEFAULT_SECRET_KEY)
PII_KEY = os.environ.get("JIAYUAN_PII_KEY", DEFAULT_PII_KEY)
PII_INDEX_KEY = os.environ.get("JIAYUAN_PII_INDEX_KEY", "")
DEMO_PASSWORD = os.environ.get("JIAYUAN_DEMO_PASSWORD", "jiayuan-demo")
REDIS_URL = os.environ.get("JIAYUAN_REDIS_URL", "")
MQTT_URL = os.environ.get("JIAYUAN_MQTT_URL", "")
# The indicators' baseline period ("2025-01/2025-03"); empty: the first full months of data.
CASES_BASELINE = os.environ.get("JIAYUAN_CASES_BASELINE", "")
# Community services: when a stalled wish claim is reminded (days past its due date, days
# after an undated claim, and at most once every so many days).
WISH_REMIND_AFTER_DUE_DAYS = int(os.environ.get("JIAYUAN_WISH_REMIND_AFTER_DUE_DAYS", "1"))
WISH_REMIND_UNDATED_DAYS = int(os.environ.get("JIAYUAN_WISH_REMIND_UNDATED_DAYS", "7"))
WISH_REMIND_EVERY_DAYS = int(os.environ.get("JIAYUAN_WISH_REMIND_EVERY_DAYS", "7"))
# Mobilisation: minutes a called force has to acknowledge before escalation; hours a
# force's position is kept (PIPL: minimum necessary); the SMS gateway and the WeCom group
# robot's webhook (unset: messages are only recorded, never sent).
COMMAND_ACK_MINUTES = float(os.environ.get("JIAYUAN_COMMAND_ACK_MINUTES", "5"))
COMMAND_LOCATION_RETENTION_HOURS = float(
    os.environ.get("JIAYUAN_COMMAND_LOCATION_RETENTION_HOURS", "24")
)
COMMAND_SMS_ENDPOINT = os.environ.get("JIAYUAN_COMMAND_SMS_ENDPOINT", "")
COMMAND_WECOM_WEBHOOK = os.environ.get("JIAYUAN_COMMAND_WECOM_WEBHOOK", "")
# Red partners' credit ledger: the opening balance, the change for a negative feedback the
# supervision group upheld, for a quarter rated 优, and for a rectification missed; the
# agreement's default warning and dismissal thresholds; days before an agreement ends or
# a qualification expires when the reminder goes out.
PARTNERS_CREDIT_OPENING = int(os.environ.get("JIAYUAN_PARTNERS_CREDIT_OPENING", "100"))
PARTNERS_CREDIT_NEGATIVE_FEEDBACK = int(
    os.environ.get("JIAYUAN_PARTNERS_CREDIT_NEGATIVE_FEEDBACK", "-5")
)
PARTNERS_CREDIT_EXCELLENT_QUARTER = int(
    os.environ.get("JIAYUAN_PARTNERS_CREDIT_EXCELLENT_QUARTER", "3")
)
PARTNERS_CREDIT_MISSED_RECTIFICATION = int(
    os.environ.get("JIAYUAN_PARTNERS_CREDIT_MISSED_RECTIFICATION", "-10")
)
PARTNERS_WARNING_THRESHOLD = int(os.environ.get("JIAYUAN_PARTNERS_WARNING_THRESHOLD", "80"))
PARTNERS_DISMISSAL_THRESHOLD = int(os.environ.get("JIAYUAN_PARTNERS_DISMISSAL_THRESHOLD", "60"))
PARTNERS_REMIND_DAYS = int(os.environ.get("JIAYUAN_PARTNERS_REMIND_DAYS", "30"))
# The assistant (数字助理): the score below which it abstains (calibrated on the engine's
# dev set, data/eval/dev.yaml — never on the shipped evaluation set; docs/assistant.md);
# anonymous questions a minute per address; the WeCom group robots' webhook base address
# and pace; the smart robot's callback token, EncodingAESKey and receive id (the corp
# id); unset callback settings switch the callback off.
ASSISTANT_MIN_SCORE = float(os.environ.get("JIAYUAN_ASSISTANT_MIN_SCORE", "0.3"))
ASSISTANT_ANON_PER_MINUTE = int(os.environ.get("JIAYUAN_ASSISTANT_ANON_PER_MINUTE", "10"))
ASSISTANT_WECOM_WEBHOOK_BASE = os.environ.get(
    "JIAYUAN_ASSISTANT_WECOM_WEBHOOK_BASE", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
)
ASSISTANT_WECOM_PER_MINUTE = int(os.environ.get("JIAYUAN_ASSISTANT_WECOM_PER_MINUTE", "20"))
ASSISTANT_WECOM_TOKEN = os.environ.get("JIAYUAN_ASSISTANT_WECOM_TOKEN", "")
ASSISTANT_WECOM_AES_KEY = os.environ.get("JIAYUAN_ASSISTANT_WECOM_AES_KEY", "")
ASSISTANT_WECOM_RECEIVE_ID = os.environ.get("JIAYUAN_ASSISTANT_WECOM_RECEIVE_ID", "")

DEBUG = os.environ.get("JIAYUAN_DEBUG", "0" if PRODUCTION else "1") == "1"
TESTING = "pytest" in sys.modules

if PRODUCTION:
    problems = []
    if SECRET_KEY == DEFAULT_SECRET_KEY:
        problems.append("JIAYUAN_SECRET_KEY is the default")
    if PII_KEY == DEFAULT_PII_KEY:
        problems.append("JIAYUAN_PII_KEY is the default")
    if DEBUG:
        problems.append("DEBUG is on")
    if problems:
        raise ImproperlyConfigured(
            "拒绝以生产模式启动 / refusing to start in production: " + "; ".join(problems)
        )

ALLOWED_HOSTS = [h for h in os.environ.get("JIAYUAN_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("JIAYUAN_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves the Swagger UI assets itself: /api/v1/docs works offline
    "huey.contrib.djhuey",
    "jiayuan.core",
    "jiayuan.org",
    "jiayuan.people",
    "jiayuan.cases",
    "jiayuan.policies",
    "jiayuan.iot",
    "jiayuan.datahub",
    "jiayuan.community",
    "jiayuan.partners",
    "jiayuan.assistant",
    "jiayuan.command",
    "jiayuan.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jiayuan.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "jiayuan.urls"
WSGI_APPLICATION = "jiayuan.wsgi.application"

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
                "jiayuan.core.context_processors.navigation",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("JIAYUAN_DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "jiayuan.sqlite3"),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web and the worker read while the other writes; IMMEDIATE
            # transactions take the write lock up front instead of failing mid-way.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- task queue (Huey) -------------------------------------------------------------------
# An idle consumer polls at most every second (Huey's default backs off to 10 s): an
# alarm's case is opened by a job after the ingest commit, and a resident should not
# wait ten seconds for it.
_CONSUMER = {"workers": 2, "worker_type": "thread", "max_delay": 1.0}

if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "jiayuan",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": _CONSUMER,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "jiayuan",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
        "consumer": _CONSUMER,
    }

# --- auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static files -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("JIAYUAN_STATIC_ROOT", VAR_DIR / "static"))
# WhiteNoise warns on every start while STATIC_ROOT is missing; collectstatic fills it.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
NODE_MODULES = Path(os.environ.get("JIAYUAN_NODE_MODULES", PROJECT_DIR / "node_modules"))
# Only the built files of each front-end package are served, never node_modules whole.
VENDOR_DIRS = {
    "tabler": "@tabler/core/dist",
    "htmx": "htmx.org/dist",
    "echarts": "echarts/dist",
    "leaflet": "leaflet/dist",
}
STATICFILES_DIRS: list = [BASE_DIR / "static"]
STATICFILES_DIRS += [
    (f"vendor/{name}", NODE_MODULES / sub)
    for name, sub in VENDOR_DIRS.items()
    if (NODE_MODULES / sub).is_dir()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# --- logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "jiayuan.core.logging.PIIMaskingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["pii"], "formatter": "plain"}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("JIAYUAN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
