"""Test settings: the base settings with fast hashing and no outside effects."""
import os

os.environ.setdefault("SECRET_KEY", "test-secret-key")

from .base import *  # noqa: E402,F401,F403
from .base import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
CRM_BACKEND = "demo"
# One process, a fresh cache each run: sign-in counters never leak between runs or into a shared Redis.
# (tests/test_login_throttle.py also runs the limits against Redis when REDIS_URL is set.)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "handoff-tests"}}
SLACK_WEBHOOK_URL = ""
# Static files come from the app folders in tests; no collectstatic output to scan.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Every read compiled once per process (handoff.db.compiled_once) is compiled afresh too and must match: a list
# whose key left out an input that changes its SQL fails the test that shows it.
HANDOFF_CHECK_COMPILED = True
