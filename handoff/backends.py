"""The sign-in backend: Django's, reading with the session's user what every page asks of them."""
from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from handoff.selectors.reader import reader


class ReaderBackend(ModelBackend):
    """Django's `ModelBackend` (passwords, permissions, active users only), whose `get_user` — run once per request
    for the session's user — reads the reader's roles, managed teams, time zone and leads to rate in the same query
    (`selectors.reader`): four queries fewer on every page."""

    def get_user(self, user_id):
        user = reader(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
