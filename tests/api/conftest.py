"""Fixtures for the API: a client per member of the cast and handoffs in each state, made through the services."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from handoff.services import handoffs as machine

from ..factories import make_user


@pytest.fixture
def api(cast):
    """`api("rep")` is an API client authenticated as that member of the cast (or as a given user)."""

    def client_for(who) -> APIClient:
        client = APIClient()
        client.force_authenticate(getattr(cast, who) if isinstance(who, str) else who)
        return client

    return client_for


@pytest.fixture
def admin(db):
    """Staff with no role: sees every handoff, and may take no action in the rules of engagement."""
    return make_user("ada.admin", is_staff=True)


@pytest.fixture
def accepted(cast, qualified):
    return machine.handoff_accept(handoff=qualified, actor=cast.actor("rep"))


@pytest.fixture
def rejected(cast, qualified):
    return machine.handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="wrong_region")


@pytest.fixture
def disputed(cast, rejected):
    return machine.handoff_dispute(handoff=rejected, actor=cast.actor("marketer"), reason="meets_definition")
