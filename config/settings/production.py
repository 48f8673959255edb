"""Production settings: the base settings served over HTTPS behind a TLS-terminating proxy.

Chosen by DJANGO_SETTINGS_MODULE=config.settings.production (docker-compose sets it for web, worker and beat);
manage.py, config.wsgi and config.celery default to config.settings.base, what `make run` and development use.
With the defaults, `manage.py check --deploy` reports no issue (.ci/run checks it). Every knob is read from the
environment and documented in the README and in .env.example.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DEBUG, REST_FRAMEWORK, SECRET_KEY, env

if DEBUG:
    raise ImproperlyConfigured("DEBUG=1 is for development: the production settings refuse it.")

# Django's deployment check (security.W009) asks for 50 characters, at least 5 of them different.
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be at least 50 random characters in production, e.g. "
        'python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )

# Tasks run in the worker, never inline in the web request that queued them: the variable is refused, not ignored.
if env.bool("CELERY_TASK_ALWAYS_EAGER", default=False):
    raise ImproperlyConfigured("CELERY_TASK_ALWAYS_EAGER is for tests and development: unset it in production.")
CELERY_TASK_ALWAYS_EAGER = False

# --- HTTPS behind a proxy -----------------------------------------------------------------
# The proxy terminates TLS and says so in X-Forwarded-Proto; it must set that header itself (dropping a client's),
# and the app's port must be reachable only through it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Health probes (docker-compose's, a load balancer's) ask over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS: browsers that saw the header use only HTTPS for this host (and its subdomains) for that long. Start with a
# few minutes while trying the TLS set-up: a browser keeps the promise for the whole period.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Only a consent: browsers preload a domain only after its owner submits the registrable domain to the list.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# --- Cookies ------------------------------------------------------------------------------
# Sent over HTTPS only (the __Secure- prefix makes browsers enforce it), never readable from JavaScript.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Secure-sessionid"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_NAME = "__Secure-csrftoken"
# Forms carry the token; no script of ours (nor the API docs page) reads the cookie.
CSRF_COOKIE_HTTPONLY = True

# --- Sign-in limits -----------------------------------------------------------------------
# Behind the proxy every connection comes from it: the client is the address it appends to X-Forwarded-For.
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": env.int("NUM_PROXIES", default=1)}
