"""The token check of every API request (a module of its own: DRF imports it while its views are loading)."""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

from handoff.selectors.people import identity_columns, remember_identity


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, reading the user's roles and managed teams in the same query: every API request asks for
    them (visibility, actions), and two more queries were a sixth of a short list's time."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            user_id = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name('user_id')}"
            token = model.objects.select_related("user").annotate(**identity_columns(user_id)).get(key=key)
        except model.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        remember_identity(token.user, token)
        return token.user, token
