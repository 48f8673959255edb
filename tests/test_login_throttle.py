"""Sign-in limits: failed attempts per username and per client address on /api/auth/token/ and the login pages."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime

import pytest
import redis
import time_machine
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from handoff.throttling import LoginAttempt

pytestmark = pytest.mark.django_db

# The documented defaults (README "Sign-in limits"), pinned here so a developer's .env cannot change the tests.
RATES = {"login_user_burst": "5/min", "login_user_sustained": "20/hour", "login_address": "20/min"}
TOKEN_URL = "/api/auth/token/"
NOON = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def _limits(settings, num_proxies: int = 0) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": RATES,
        "NUM_PROXIES": num_proxies,
    }


def _clear_counters() -> None:
    """Empty the test settings' LocMem cache (never a shared Redis: clear() would flush its whole database)."""
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def limits(settings):
    _limits(settings)
    _clear_counters()
    yield
    _clear_counters()


@pytest.fixture(params=["locmem", "file", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings, tmp_path):
    """The counters in the test settings' LocMem cache, in files (the embedded default) or in Redis (production's)."""
    if request.param == "locmem":
        yield "locmem"
        return
    if request.param == "file":
        test_caches = settings.CACHES
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
        }
        yield "file"
        settings.CACHES = test_caches
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (a running Redis)")
    prefix = f"handoff-test-{uuid.uuid4().hex}"
    test_caches = settings.CACHES
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": prefix}
    }
    yield "redis"
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
        settings.CACHES = test_caches


def _token(username: str, password: str, address: str = "10.0.0.1", **headers):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address, **headers
    )


def _page(username: str, password: str, address: str = "10.0.0.1", client: Client | None = None):
    client = client or Client()
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


# --- POST /api/auth/token/ ----------------------------------------------------------------


def test_the_sixth_attempt_in_a_minute_gets_429_then_the_next_minute_signs_in(cast, backend):
    with time_machine.travel(NOON.replace(second=30), tick=False) as clock:
        for _ in range(5):
            assert _token("rita.rep", "nope").status_code == 400

        refused = _token("rita.rep", "pw")  # even the right password: it is not checked

        assert refused.status_code == 429
        assert refused.json() == {
            "detail": "Too many sign-in attempts for this account or from this address. "
            "Expected available in 30 seconds.",
            "code": "throttled",
        }
        assert refused["Retry-After"] == "30"

        clock.move_to(NOON.replace(minute=1))
        allowed = _token("rita.rep", "pw")

    assert allowed.status_code == 200
    assert allowed.json()["token"]


def test_twenty_failures_in_an_hour_lock_the_account_until_the_hour_ends(cast):
    with time_machine.travel(NOON, tick=False) as clock:
        for minute in range(4):
            clock.move_to(NOON.replace(minute=minute))
            for _ in range(5):
                assert _token("rita.rep", "nope", address=f"10.0.{minute}.1").status_code == 400

        clock.move_to(NOON.replace(minute=4))
        refused = _token("rita.rep", "pw", address="10.9.9.9")  # a new address does not help

        assert refused.status_code == 429
        assert refused["Retry-After"] == str(56 * 60)
        clock.move_to(NOON.replace(minute=59, second=59))
        assert _token("rita.rep", "pw").status_code == 429

        clock.move_to(NOON.replace(hour=13))
        assert _token("rita.rep", "pw").status_code == 200


def test_the_hourly_count_survives_pauses_between_bursts(cast, backend):
    """Each backend keeps a counter until its window ends (Django's file cache would reset it to 5 minutes)."""
    with time_machine.travel(NOON, tick=False) as clock:
        for minute in (0, 10, 20, 30):
            clock.move_to(NOON.replace(minute=minute))
            for _ in range(5):
                assert _token("rita.rep", "nope").status_code == 400

        clock.move_to(NOON.replace(minute=45))
        refused = _token("rita.rep", "pw")

        assert refused.status_code == 429
        assert refused["Retry-After"] == str(15 * 60)


def test_twenty_failures_from_one_address_over_many_usernames_stop_that_address(cast):
    with time_machine.travel(NOON.replace(second=10), tick=False) as clock:
        for n in range(20):
            assert _token(f"guess-{n}", "password1").status_code == 400

        refused = _token("rita.rep", "pw")
        other_address = _token("rita.rep", "pw", address="10.0.0.2")

        assert refused.status_code == 429
        assert refused["Retry-After"] == "50"
        assert refused.json()["code"] == "throttled"
        assert other_address.status_code == 200

        clock.move_to(NOON.replace(minute=1))
        assert _token("rob.rep", "pw").status_code == 200


def test_successful_sign_ins_do_not_count(cast):
    with time_machine.travel(NOON, tick=False):
        for _ in range(12):
            assert _token("rita.rep", "pw").status_code == 200
        for _ in range(5):
            assert _token("rita.rep", "nope").status_code == 400

        assert _token("rita.rep", "pw").status_code == 429


def test_refused_attempts_do_not_count_so_hammering_does_not_extend_the_lock(cast):
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(5):
            _token("rita.rep", "nope")
        for _ in range(50):  # would be 55 in the hour if they counted: past the hourly 20
            assert _token("rita.rep", "nope").status_code == 429

        clock.move_to(NOON.replace(minute=1))
        assert _token("rita.rep", "pw").status_code == 200


def test_the_username_is_limited_whatever_its_case_and_spaces(cast):
    with time_machine.travel(NOON, tick=False):
        for spelling in ["rita.rep", "Rita.Rep", " rita.rep", "RITA.REP ", "rita.REP"]:
            assert _token(spelling, "nope").status_code == 400

        assert _token("rita.rep", "pw").status_code == 429


def test_a_forged_forwarded_for_does_not_escape_the_address_limit(cast):
    """NUM_PROXIES=0 (no proxy): the address is the connection's, whatever X-Forwarded-For says."""
    with time_machine.travel(NOON, tick=False):
        for n in range(20):
            response = _token(f"guess-{n}", "password1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            assert response.status_code == 400

        assert _token("rita.rep", "pw", HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_one_proxy_the_client_is_the_address_the_proxy_appended(cast, settings):
    _limits(settings, num_proxies=1)
    proxy = "172.18.0.5"
    with time_machine.travel(NOON, tick=False):
        for n in range(20):
            # The client may send its own X-Forwarded-For; the proxy appends the address it saw.
            forwarded = f"10.{n}.0.1, 203.0.113.7"
            assert _token(f"guess-{n}", "password1", address=proxy, HTTP_X_FORWARDED_FOR=forwarded).status_code == 400

        assert _token("rita.rep", "pw", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
        assert _token("rita.rep", "pw", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


def test_the_token_endpoint_documents_its_429(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    assert "429" in schema["paths"][TOKEN_URL]["post"]["responses"]


# --- The login pages ----------------------------------------------------------------------


def test_the_login_page_refuses_the_sixth_attempt_with_a_readable_429(cast, backend):
    with time_machine.travel(NOON.replace(second=30), tick=False) as clock:
        for _ in range(5):
            response = _page("rita.rep", "nope")
            assert response.status_code == 200
            assert "Please enter a correct username and password" in response.text

        refused = _page("rita.rep", "pw")

        assert refused.status_code == 429
        assert refused["Retry-After"] == "30"
        assert "Too many sign-in attempts" in refused.text
        assert "Try again in 30 seconds" in refused.text
        assert "no-cache" in refused["Cache-Control"]
        assert Client().get(reverse("login")).status_code == 200  # the page itself still loads

        clock.move_to(NOON.replace(minute=1))
        client = Client()
        signed_in = _page("rita.rep", "pw", client=client)

        assert signed_in.status_code == 302
        assert client.get(reverse("my_handoffs")).status_code == 200


def test_the_login_page_says_minutes_when_the_hourly_limit_refuses(cast):
    with time_machine.travel(NOON, tick=False) as clock:
        for minute in range(4):
            clock.move_to(NOON.replace(minute=minute))
            for _ in range(5):
                _page("rita.rep", "nope", address=f"10.0.{minute}.1")
        clock.move_to(NOON.replace(minute=4, second=30))

        refused = _page("rita.rep", "pw")

    assert refused.status_code == 429
    assert refused["Retry-After"] == str(55 * 60 + 30)
    assert "Try again in 56 minutes" in refused.text


def test_the_login_page_limits_one_address_over_many_usernames(cast):
    with time_machine.travel(NOON, tick=False):
        for n in range(20):
            assert _page(f"guess-{n}", "password1").status_code == 200

        assert _page("rita.rep", "pw").status_code == 429
        assert _page("rita.rep", "pw", address="10.0.0.2").status_code == 302


def test_signing_in_on_the_page_again_and_again_is_not_limited(cast):
    with time_machine.travel(NOON, tick=False):
        for _ in range(8):
            client = Client()
            assert _page("rita.rep", "pw", client=client).status_code == 302
            client.post(reverse("logout"))


def test_the_page_and_the_api_share_the_limits(cast):
    with time_machine.travel(NOON, tick=False):
        for _ in range(3):
            _page("rita.rep", "nope")
        for _ in range(2):
            _token("rita.rep", "nope")

        assert _token("rita.rep", "pw").status_code == 429
        assert _page("rita.rep", "pw").status_code == 429


def test_the_admin_login_is_limited_too(db):
    User.objects.create_superuser("root", "root@example.com", "right-password")
    url = reverse("admin:login")
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(5):
            response = Client().post(url, {"username": "root", "password": "nope"}, REMOTE_ADDR="10.0.0.1")
            assert response.status_code == 200

        refused = Client().post(url, {"username": "root", "password": "right-password"}, REMOTE_ADDR="10.0.0.1")

        assert refused.status_code == 429
        assert refused["Retry-After"] == "60"

        clock.move_to(NOON.replace(minute=1))
        client = Client()
        allowed = client.post(url, {"username": "root", "password": "right-password"}, REMOTE_ADDR="10.0.0.1")

        assert allowed.status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200


# --- Concurrency --------------------------------------------------------------------------


def test_concurrent_guesses_get_no_more_than_the_limit(backend):
    """Thirty guesses at once for one account: exactly five reach the password check (DRF's own throttle: ~30)."""
    request = RequestFactory().post("/login/", {"username": "rita.rep", "password": "guess"}, REMOTE_ADDR="10.0.0.1")
    start = threading.Barrier(30)
    allowed: list[bool] = []

    def guess() -> None:
        start.wait()
        allowed.append(LoginAttempt().check(request) is None)

    with time_machine.travel(NOON, tick=False):
        threads = [threading.Thread(target=guess) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert allowed.count(True) == 5
