"""GET /healthz: 200 when the database (and Redis, when configured) answer, 503 naming what failed."""
import os
import socket

import pytest
from django.db import DatabaseError


def _closed_port() -> int:
    """A local port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_healthy_database_and_filesystem_broker_answer_ok_without_login(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"] == {"ok": True, "transport": "filesystem", "status": "not configured"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_unreachable_redis_broker_answers_503_naming_the_broker(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["transport"] == "redis"
    assert "Connection" in body["broker"]["error"]


@pytest.mark.django_db
def test_failing_database_answers_503_naming_the_database(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def refuse(*args, **kwargs):
        raise DatabaseError("server closed the connection")

    from django.db.backends.utils import CursorWrapper

    monkeypatch.setattr(CursorWrapper, "execute", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["database"]["ok"] is False
    assert "server closed the connection" in body["database"]["error"]


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a running Redis)")
@pytest.mark.django_db
def test_configured_redis_that_answers_is_reported_ok(client, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"]["ok"] is True


def test_only_get_is_allowed(client):
    assert client.post("/healthz").status_code == 405
