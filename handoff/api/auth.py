"""POST /api/auth/token/: DRF's token view with the sign-in limits of `handoff.throttling` in front."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings

from handoff.throttling import LOGIN_THROTTLE_CLASSES, LoginAttempt


class ThrottledObtainAuthToken(ObtainAuthToken):
    throttle_classes = LOGIN_THROTTLE_CLASSES
    # The API's parsers, not DRF's own list: a JSON body nested too deep is a 400 here too.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    def check_throttles(self, request) -> None:
        self.login_attempt = LoginAttempt(self.get_throttles())
        wait = self.login_attempt.check(request, self)
        if wait is not None:
            # 429 with Retry-After; the exception handler gives it the API's {"detail", "code": "throttled"} body.
            raise Throttled(wait, detail="Too many sign-in attempts for this account or from this address.")

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)  # a wrong password raises: the attempt stays counted
        self.login_attempt.give_back()
        return response


obtain_auth_token = ThrottledObtainAuthToken.as_view()
