"""The token check of every API request (a module of its own: DRF imports it while its views are loading)."""

from __future__ import annotations

import functools

from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed

from handoff.db import OneRowStatement, one_row, one_row_statement
from handoff.selectors.people import identity_columns, remember_identity


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, reading the user's roles and managed teams in the same query: every API request asks for
    them (visibility, actions), and two more queries were a sixth of a short list's time. On PostgreSQL the query is
    compiled once per process and prepared once per connection (`db.one_row`): built by the ORM on every request,
    it was a quarter of a list's time."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        token = self._token(model, key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        remember_identity(token.user, token)
        return token.user, token

    @staticmethod
    def _token(model, key: str):
        if connection.vendor != "postgresql":
            return _tokens(model).filter(key=key).first()
        row = one_row(_statement(model), key)
        if row is None:
            return None
        user_model = model._meta.get_field("user").related_model
        token = model.from_db("default", list(row[model]), list(row[model].values()))
        token.user = user_model.from_db("default", list(row[user_model]), list(row[user_model].values()))
        for annotation, value in row[None].items():
            setattr(token, annotation, value)
        return token


# A stand-in for the key while the statement is built: no real key has this length.
_STAND_IN = "token-stand-in"


def _tokens(model):
    """Tokens with their user, and the user's roles and managed teams."""
    user_id = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name('user_id')}"
    return model.objects.select_related("user").annotate(**identity_columns(user_id))


@functools.cache
def _statement(model) -> OneRowStatement:
    return one_row_statement(_tokens(model).filter(key=_STAND_IN), _STAND_IN)
