"""Sign-in limits: failed password attempts per username and per client address, in Django's cache.

Both ways in (`POST /api/auth/token/` and the login pages, the admin's included) count against the same limits,
so a password cannot be guessed at line rate through either. Each limit is a DRF throttle with a scope whose rate
is in `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (env `LOGIN_RATE_*`; an empty rate is no limit).

DRF's `SimpleRateThrottle` keeps a list of timestamps that it reads, appends to and writes back: concurrent
requests all read the same list and all pass, so a client with N connections gets N times the limit. These
throttles count in fixed windows of the rate's period (the clock minute, the clock hour) with the cache's atomic
`incr` instead: with Redis a window can never let more than its limit through, whatever the concurrency.

An attempt is counted before the password is checked (so concurrent guesses each take a slot) and given back when
the sign-in succeeds or when a limit refuses it: the limits count failed attempts that reached the password check,
so people signing in successfully from one office address never use up its limit.
"""

from __future__ import annotations

import hashlib
import math
import threading

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# Counter keys outlive their window by this much, so an `incr` late in a window never finds its key expired.
KEY_GRACE_SECONDS = 60
# The file and database cache backends implement incr as get + set: this makes it atomic within a process.
_COUNTER_LOCK = threading.Lock()


def submitted_username(request) -> str | None:
    """The username a sign-in request names (form or JSON body), normalised; None when it names none."""
    data = getattr(request, "data", None)  # a DRF request; a Django one has its form in POST
    if data is None:
        data = request.POST
    value = data.get("username") if hasattr(data, "get") else None
    if not isinstance(value, str) or not value.strip():
        return None
    # "Rita.Rep" and "rita.rep" share a limit whatever the database's collation makes of them.
    return value.strip().casefold()


def _digest(text: str) -> str:
    """Cache keys never hold what the client typed (length, characters a backend refuses)."""
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class LoginThrottle(SimpleRateThrottle):
    """One sign-in limit: at most N counted attempts per key in each fixed window of the rate's period."""

    cache_format = "throttle_%(scope)s_%(ident)s_%(window)d"

    def __init__(self) -> None:
        super().__init__()
        self.counted_key: str | None = None

    def get_rate(self) -> str | None:
        # Read when the throttle is made, not at import as DRF's class attribute is: settings overrides apply.
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope] or None
        except KeyError:
            raise ImproperlyConfigured(f"No throttle rate set for the {self.scope!r} scope.") from None

    def get_ident_of(self, request) -> str | None:
        """Who or what the request is counted against (a username, an address); None counts nothing."""
        raise NotImplementedError(f"{type(self).__name__} must say what it counts requests by")

    def get_cache_key(self, request, view) -> str | None:
        ident = self.get_ident_of(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": _digest(ident), "window": self.window}

    def allow_request(self, request, view) -> bool:
        self.uncount()
        if self.rate is None:
            return True
        self.now = self.timer()
        self.window = int(self.now // self.duration)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        with _COUNTER_LOCK:
            self.cache.add(self.key, 0, timeout=self._key_timeout())
            try:
                count = self.cache.incr(self.key)
            except ValueError:  # culled between add and incr
                self.cache.set(self.key, 1, timeout=self._key_timeout())
                count = 1
            self._keep_until_window_ends(self.key)
        self.counted_key = self.key
        return count <= self.num_requests

    def _key_timeout(self) -> float:
        return (self.window + 1) * self.duration - self.timer() + KEY_GRACE_SECONDS

    def _keep_until_window_ends(self, key: str) -> None:
        # Redis and LocMem keep a key's expiry on incr/decr; the file and database caches rewrite the value with
        # the default timeout (5 minutes), which would forget an hourly count after a pause.
        self.cache.touch(key, timeout=self._key_timeout())

    def wait(self) -> int:
        """Seconds until this window ends (the Retry-After of a refused attempt)."""
        return max(1, math.ceil((self.window + 1) * self.duration - self.now))

    def uncount(self) -> None:
        """Give the attempt back: it succeeded, or never reached the password check."""
        if self.counted_key is None:
            return
        with _COUNTER_LOCK:
            try:
                self.cache.decr(self.counted_key)
            except ValueError:  # the window's key is gone already
                pass
            else:
                self._keep_until_window_ends(self.counted_key)
        self.counted_key = None


class LoginUserBurstThrottle(LoginThrottle):
    """Per username, short period: a person who mistypes waits a minute at most."""

    scope = "login_user_burst"

    def get_ident_of(self, request) -> str | None:
        return submitted_username(request)


class LoginUserSustainedThrottle(LoginUserBurstThrottle):
    """Per username, long period: what caps a patient guesser of one account."""

    scope = "login_user_sustained"


class LoginAddressThrottle(LoginThrottle):
    """Per client address, whatever username: caps one password tried over many accounts (spraying)."""

    scope = "login_address"

    def get_ident_of(self, request) -> str:
        # DRF's: REMOTE_ADDR, or the NUM_PROXIES-th address from the right of X-Forwarded-For behind proxies.
        return self.get_ident(request) or "unknown"


# The longest period first: when it refuses, its wait is the real one (the minute's would only lead to another 429).
LOGIN_THROTTLE_CLASSES = (LoginUserSustainedThrottle, LoginUserBurstThrottle, LoginAddressThrottle)


class LoginAttempt:
    """One sign-in attempt counted against every limit; `check` says how long to wait when one refuses it."""

    def __init__(self, throttles=None) -> None:
        self.throttles = list(throttles) if throttles is not None else [cls() for cls in LOGIN_THROTTLE_CLASSES]

    def check(self, request, view=None) -> int | None:
        """None when every limit lets the attempt through; else the seconds to wait (Retry-After)."""
        for throttle in self.throttles:
            if not throttle.allow_request(request, view):
                # A refused attempt never reaches the password check: it does not count (the limits count guesses).
                # Stopping at the first refusal keeps concurrent refused attempts from filling the other limits.
                self.give_back()
                return throttle.wait()
        return None

    def give_back(self) -> None:
        for throttle in self.throttles:
            if isinstance(throttle, LoginThrottle):
                throttle.uncount()


REQUEST_ATTRIBUTE = "_handoff_login_attempt"


@receiver(user_logged_in, dispatch_uid="handoff.throttling.successful_sign_in")
def _successful_sign_in_is_not_counted(sender, request, user, **kwargs) -> None:
    attempt = getattr(request, REQUEST_ATTRIBUTE, None)
    if attempt is not None:
        attempt.give_back()
