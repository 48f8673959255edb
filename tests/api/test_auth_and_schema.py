"""Getting in (session or token), staying out, and the OpenAPI schema with its self-hosted docs page."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_client_gets_a_token_and_reads_with_it(cast, qualified):
    client = APIClient()

    response = client.post("/api/auth/token/", {"username": "rita.rep", "password": "pw"}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=cast.rep).key == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = client.get("/api/handoffs/").json()
    assert [row["id"] for row in body["results"]] == [qualified.pk]


def test_a_token_lets_a_client_act(cast, qualified):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast.rep).key}")

    response = client.post(f"/api/handoffs/{qualified.pk}/accept/", {}, format="json")

    assert response.status_code == 200
    qualified.refresh_from_db()
    assert qualified.state == "accepted"


def test_a_wrong_password_gets_no_token(cast):
    response = APIClient().post("/api/auth/token/", {"username": "rita.rep", "password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "authorization"
    assert not Token.objects.exists()


def test_a_session_login_works_too(cast, qualified):
    client = APIClient()
    client.login(username="rita.rep", password="pw")

    assert client.get(f"/api/handoffs/{qualified.pk}/").status_code == 200


@pytest.mark.parametrize("url", ["/api/handoffs/", "/api/leads/", "/api/reason-codes/", "/api/definitions/"])
def test_without_credentials_the_answer_is_401(url, cast):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_refused_and_changes_nothing(qualified):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert client.post(f"/api/handoffs/{qualified.pk}/accept/", {}, format="json").status_code == 401
    qualified.refresh_from_db()
    assert qualified.state == "qualified"


def test_the_schema_is_valid_openapi_and_documents_each_action(db):
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    reject = schema["paths"]["/api/handoffs/{id}/reject/"]["post"]
    body = reject["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RejectRequest"}
    assert set(reject["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "414", "415"}
    assert "reason" in schema["components"]["schemas"]["RejectRequest"]["required"]
    assert "/api/handoffs/bulk-reject/" in schema["paths"]
    assert "/api/leads/{id}/qualify/" in schema["paths"]


def test_the_docs_page_loads_swagger_ui_from_our_static_files(db):
    client = APIClient()

    page = client.get("/api/docs/").content.decode()

    assets = ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css"]
    for asset in assets:
        assert f'"/static/drf_spectacular_sidecar/{asset}"' in page
        # The file the page names ships in an installed app, so collectstatic serves it with the rest.
        assert finders.find(f"drf_spectacular_sidecar/{asset}")
    assert "cdn" not in page and "https://" not in page
