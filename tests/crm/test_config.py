"""CRM configuration: every mistake is reported with the variable to fix, and get_backend() picks the backend."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from handoff.crm import CrmConfigError, get_backend
from handoff.crm.config import AuthMode, SalesforceConfig, demo_config
from handoff.crm.demo import DemoBackend
from handoff.crm.salesforce import SalesforceBackend

SESSION = {"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com", "SALESFORCE_SESSION_ID": "00D!abc"}
PASSWORD = {"SALESFORCE_USERNAME": "sync@acme.com", "SALESFORCE_PASSWORD": "pw", "SALESFORCE_SECURITY_TOKEN": "tok"}


@pytest.fixture
def key_file(tmp_path) -> str:
    path = tmp_path / "server.key"
    path.write_text("-----BEGIN PRIVATE KEY-----\n")
    return str(path)


def test_a_session_id_config_with_defaults():
    config = SalesforceConfig.from_env(SESSION)

    assert config.auth_mode is AuthMode.SESSION and not config.can_login
    assert (config.api_version, config.timeout, config.max_api_share, config.ca_bundle) == ("59.0", 30.0, 0.8, None)


def test_password_and_jwt_configs_can_log_in_again(key_file):
    password = SalesforceConfig.from_env({**PASSWORD, "SALESFORCE_DOMAIN": "test"})
    jwt = SalesforceConfig.from_env({
        "SALESFORCE_CONSUMER_KEY": "3MVG9", "SALESFORCE_PRIVATE_KEY_FILE": key_file, "SALESFORCE_USERNAME": "a@b.c",
    })

    assert (password.auth_mode, password.domain, password.can_login) == (AuthMode.PASSWORD, "test", True)
    assert (jwt.auth_mode, jwt.can_login) == (AuthMode.JWT, True)


def test_an_empty_security_token_is_allowed_for_trusted_ip_ranges():
    assert SalesforceConfig.from_env({**PASSWORD, "SALESFORCE_SECURITY_TOKEN": ""}).security_token == ""


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, ["SALESFORCE_SESSION_ID", "SALESFORCE_USERNAME", "SALESFORCE_CONSUMER_KEY", "CRM_BACKEND"]),
        ({"SALESFORCE_SESSION_ID": "x"}, ["SALESFORCE_INSTANCE_URL"]),
        ({**SESSION, "SALESFORCE_INSTANCE_URL": "acme.my.salesforce.com"}, ["SALESFORCE_INSTANCE_URL", "https://"]),
        ({**SESSION, **PASSWORD}, ["SALESFORCE_SESSION_ID", "SALESFORCE_PASSWORD"]),
        ({**PASSWORD, "SALESFORCE_CONSUMER_KEY": "k"}, ["SALESFORCE_PASSWORD", "SALESFORCE_CONSUMER_KEY"]),
        ({"SALESFORCE_PASSWORD": "pw", "SALESFORCE_SECURITY_TOKEN": "t"}, ["SALESFORCE_USERNAME"]),
        ({"SALESFORCE_USERNAME": "u", "SALESFORCE_PASSWORD": "pw"}, ["SALESFORCE_SECURITY_TOKEN"]),
        ({"SALESFORCE_CONSUMER_KEY": "k", "SALESFORCE_USERNAME": "u"}, ["SALESFORCE_PRIVATE_KEY_FILE"]),
        ({"SALESFORCE_CONSUMER_KEY": "k", "SALESFORCE_USERNAME": "u", "SALESFORCE_PRIVATE_KEY_FILE": "/nope.key"},
         ["SALESFORCE_PRIVATE_KEY_FILE", "/nope.key"]),
        ({**PASSWORD, "SALESFORCE_DOMAIN": "test.salesforce.com"}, ["SALESFORCE_DOMAIN"]),
        ({**SESSION, "SALESFORCE_API_VERSION": "v59.0"}, ["SALESFORCE_API_VERSION"]),
        ({**SESSION, "SALESFORCE_TIMEOUT": "soon"}, ["SALESFORCE_TIMEOUT"]),
        ({**SESSION, "SALESFORCE_TIMEOUT": "0"}, ["SALESFORCE_TIMEOUT"]),
        ({**SESSION, "SALESFORCE_MAX_API_SHARE": "80"}, ["SALESFORCE_MAX_API_SHARE"]),
        ({**SESSION, "SALESFORCE_CA_BUNDLE": "/no/such/ca.pem"}, ["SALESFORCE_CA_BUNDLE"]),
    ],
    ids=[
        "nothing", "session-without-url", "url-without-scheme", "session-and-password", "password-and-jwt",
        "password-without-username", "password-without-token", "jwt-without-key", "jwt-key-missing",
        "domain-with-host", "version-with-v", "timeout-not-a-number", "timeout-zero", "share-as-percent",
        "ca-bundle-missing",
    ],
)
def test_config_errors_name_the_variables_to_fix(environ, names):
    with pytest.raises(CrmConfigError) as error:
        SalesforceConfig.from_env(environ)

    for name in names:
        assert name in str(error.value)


def test_the_salesforce_backend_validates_at_construction_without_a_request():
    with pytest.raises(CrmConfigError, match="SALESFORCE_MAX_API_SHARE"):
        SalesforceBackend(SalesforceConfig(instance_url="https://x.my.salesforce.com", session_id="s",
                                           max_api_share=0))

    backend = SalesforceBackend(SalesforceConfig(instance_url="https://x.my.salesforce.com", session_id="s"))
    assert backend.api_calls == 0 and backend.api_usage() is None


def test_get_backend_builds_the_demo_crm_with_its_state_file(settings, tmp_path):
    settings.CRM_BACKEND = "demo"
    settings.DEMO_CRM_STATE = str(tmp_path / "crm.json")

    backend = get_backend()

    assert isinstance(backend, DemoBackend)
    assert backend.config.state_path == tmp_path / "crm.json"


def test_the_demo_state_file_defaults_to_the_var_directory(tmp_path):
    class Settings:
        VAR_DIR = tmp_path

    assert demo_config(Settings(), {}).state_path == Path(tmp_path) / "demo_crm.json"
    assert demo_config(Settings(), {"DEMO_CRM_STATE": "/srv/crm.json"}).state_path == Path("/srv/crm.json")
    with pytest.raises(CrmConfigError, match="DEMO_CRM_LEAD_INTERVAL"):
        demo_config(Settings(), {"DEMO_CRM_LEAD_INTERVAL": "often"})


def test_get_backend_builds_salesforce_from_the_environment(settings, monkeypatch):
    settings.CRM_BACKEND = "salesforce"
    for name in [name for name in os.environ if name.startswith("SALESFORCE_")]:
        monkeypatch.delenv(name)
    for name, value in SESSION.items():
        monkeypatch.setenv(name, value)

    assert isinstance(get_backend(), SalesforceBackend)

    monkeypatch.delenv("SALESFORCE_SESSION_ID")
    with pytest.raises(CrmConfigError, match="SALESFORCE_SESSION_ID"):
        get_backend()


def test_an_unknown_backend_names_crm_backend(settings):
    settings.CRM_BACKEND = "hubspot"

    with pytest.raises(CrmConfigError, match="CRM_BACKEND"):
        get_backend()
