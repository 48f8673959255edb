"""The production layer (config/settings/production.py): `check --deploy` is clean, unsafe settings are refused.

Each case loads the settings in a fresh Python process, as a deployment would, with only the variables it sets.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap

import pytest
from django.conf import settings

PRODUCTION = "config.settings.production"
# Variables of the developer's or CI's environment that would change what these tests load.
UNSET = (
    "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "NUM_PROXIES", "LOGIN_RATE_USER_BURST", "LOGIN_RATE_USER_SUSTAINED", "LOGIN_RATE_ADDRESS", "ALLOWED_HOSTS",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)  # fmt: skip


def _run(code: str, tmp_path, module: str = PRODUCTION, **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    env.update(
        DJANGO_SETTINGS_MODULE=module,
        SECRET_KEY=secrets.token_urlsafe(50),
        VAR_DIR=str(tmp_path / "var"),
        # Set, not just unset: a .env file (read for variables the environment lacks) may name compose hosts.
        DATABASE_URL=f"sqlite:///{tmp_path / 'handoff.sqlite3'}",
        REDIS_URL="",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


CHECK_DEPLOY = """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("check", deploy=True, fail_level="WARNING")
"""


def test_check_deploy_reports_no_issue_with_the_production_settings(tmp_path):
    result = _run(CHECK_DEPLOY, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_does_find_the_warnings_in_the_base_settings(tmp_path):
    """The check above is not vacuous: the development settings fail it on exactly what production sets."""
    result = _run(CHECK_DEPLOY, tmp_path, module="config.settings.base", DEBUG="0")

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SECRET_KEY": "change-me-to-a-long-random-string"}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be at least 50 random characters"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY must be at least 50 random characters"),
        ({"DEBUG": "1"}, "DEBUG=1 is for development"),
        ({"CELERY_TASK_ALWAYS_EAGER": "1"}, "CELERY_TASK_ALWAYS_EAGER is for tests and development"),
        ({"LOGIN_RATE_ADDRESS": "20 per minute"}, "LOGIN_RATE_ADDRESS='20 per minute': give a rate"),
    ],
)
def test_unsafe_or_mistyped_settings_stop_the_start(tmp_path, variables, message):
    result = _run("import django; django.setup()", tmp_path, **variables)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_celery_task_always_eager_is_off_in_production_whatever_the_base_would_do(tmp_path):
    code = """
        import django
        from django.conf import settings

        django.setup()
        print(settings.CELERY_TASK_ALWAYS_EAGER)
    """
    assert _run(code, tmp_path, CELERY_TASK_ALWAYS_EAGER="0").stdout.strip() == "False"


SETTINGS_AND_REQUESTS = """
    import json

    import django
    from django.conf import settings
    from django.test import Client, override_settings

    django.setup()
    client = Client(HTTP_HOST="127.0.0.1")
    # No collectstatic here: the page's static URLs come unhashed; nothing else of the settings changes.
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    plain_storage = {**settings.STORAGES, "staticfiles": static}
    with override_settings(STORAGES=plain_storage):
        plain_health = client.get("/healthz")
        plain_page = client.get("/login/")
        secure_page = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    cookie = secure_page.cookies[settings.CSRF_COOKIE_NAME]
    print(json.dumps({
        "health": plain_health.status_code,
        "plain": [plain_page.status_code, plain_page.get("Location")],
        "secure": secure_page.status_code,
        "hsts": secure_page.get("Strict-Transport-Security"),
        "csrf_cookie": [cookie.key, bool(cookie["secure"]), bool(cookie["httponly"])],
        "session_cookie": [
            settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY
        ],
        "rates": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
        "eager": settings.CELERY_TASK_ALWAYS_EAGER,
        "cache": settings.CACHES["default"]["BACKEND"],
    }))
"""


def test_production_serves_https_only_except_the_health_check(tmp_path):
    result = _run(SETTINGS_AND_REQUESTS, tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    # The container's health check asks over plain HTTP: answered, not redirected.
    assert seen["health"] == 200
    assert seen["plain"] == [301, "https://127.0.0.1/login/"]
    # Behind the proxy (X-Forwarded-Proto: https) the page is served, with HSTS and secure cookies.
    assert seen["secure"] == 200
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie"] == ["__Secure-csrftoken", True, True]
    assert seen["session_cookie"] == ["__Secure-sessionid", True, True]
    # The documented defaults of the sign-in limits; the client address is the one the proxy appended.
    assert seen["rates"] == {"login_user_burst": "5/min", "login_user_sustained": "20/hour", "login_address": "20/min"}
    assert seen["num_proxies"] == 1
    assert seen["eager"] is False
    # No REDIS_URL: counters in files under VAR_DIR, shared by the web workers.
    assert seen["cache"] == "django.core.cache.backends.filebased.FileBasedCache"


def test_with_redis_the_counters_live_in_redis(tmp_path):
    code = """
        import django
        from django.conf import settings

        django.setup()
        print(settings.CACHES["default"]["BACKEND"], settings.CACHES["default"]["LOCATION"])
    """
    result = _run(code, tmp_path, REDIS_URL="redis://redis:6379/0")

    assert result.stdout.split() == ["django.core.cache.backends.redis.RedisCache", "redis://redis:6379/0"]
