"""GET /healthz: is the database answering, and the broker when it is a server (Redis)."""
from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis.backoff import NoBackoff
from redis.retry import Retry

# Short enough that a load balancer's probe (docker-compose waits 5 s) gets an answer while Redis is down.
BROKER_TIMEOUT_SECONDS = 2.0


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "vendor": connection.vendor, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "vendor": connection.vendor, "ms": _elapsed_ms(started)}


def check_broker() -> dict:
    if not settings.REDIS_URL:
        # The filesystem transport has no server to ask; the worker reads the folder itself.
        return {"ok": True, "transport": "filesystem", "status": "not configured"}
    started = time.monotonic()
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        # One try: a probe reports what it sees now; retrying would only delay the answer.
        retry=Retry(NoBackoff(), retries=0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"ok": False, "transport": "redis", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
    return {"ok": True, "transport": "redis", "ms": _elapsed_ms(started)}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with status "ok" when every configured dependency answers, else 503 with status "fail"."""
    database = check_database()
    broker = check_broker()
    healthy = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if healthy else "fail", "database": database, "broker": broker},
        status=200 if healthy else 503,
    )
