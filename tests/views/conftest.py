"""Fixtures for the pages: a signed-in browser per role."""
from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def browser(cast):
    """`browser("rep")` is a test client signed in as that member of the cast."""

    def signed_in(name: str) -> Client:
        client = Client()
        client.force_login(getattr(cast, name))
        return client

    return signed_in
