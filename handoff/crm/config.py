"""CRM configuration read from environment variables, validated up front with messages naming the variable."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .base import CrmConfigError

SESSION_VARS = ("SALESFORCE_INSTANCE_URL", "SALESFORCE_SESSION_ID")
PASSWORD_VARS = ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN")
JWT_VARS = ("SALESFORCE_CONSUMER_KEY", "SALESFORCE_PRIVATE_KEY_FILE", "SALESFORCE_USERNAME")

HOW_TO_AUTHENTICATE = (
    "set SALESFORCE_INSTANCE_URL and SALESFORCE_SESSION_ID; "
    "or SALESFORCE_USERNAME, SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN (+ SALESFORCE_DOMAIN=test for a "
    "sandbox); or SALESFORCE_CONSUMER_KEY, SALESFORCE_PRIVATE_KEY_FILE and SALESFORCE_USERNAME (OAuth JWT bearer)"
)

_API_VERSION = re.compile(r"^\d{2,3}\.0$")
# `login`, `test` or a My Domain prefix such as `acme.my` or `acme--uat.sandbox.my`.
_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


class AuthMode(StrEnum):
    SESSION = "session"
    PASSWORD = "password"
    JWT = "jwt"


@dataclass(frozen=True)
class SalesforceConfig:
    """How to reach one Salesforce org. Build it with `from_env()`, or directly in tests.

    `instance_url` is only used with a session id: a username/password or JWT login returns its own instance.
    """

    instance_url: str | None = None
    session_id: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    consumer_key: str | None = None
    private_key_file: str | None = None
    api_version: str = "59.0"
    timeout: float = 30.0
    max_api_share: float = 0.8
    ca_bundle: str | None = None

    @property
    def auth_mode(self) -> AuthMode:
        if self.session_id:
            return AuthMode.SESSION
        if self.consumer_key:
            return AuthMode.JWT
        return AuthMode.PASSWORD

    @property
    def can_login(self) -> bool:
        """Whether credentials allow a fresh login (a bare session id does not)."""
        return self.auth_mode is not AuthMode.SESSION

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SalesforceConfig:
        """Read SALESFORCE_* variables; raise CrmConfigError naming what to set when they are missing or clash."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        config = cls(
            instance_url=get("SALESFORCE_INSTANCE_URL"),
            session_id=get("SALESFORCE_SESSION_ID"),
            username=get("SALESFORCE_USERNAME"),
            password=get("SALESFORCE_PASSWORD"),
            # An empty token is legitimate when the org trusts the caller's IP range, so keep "" apart from unset.
            security_token=env.get("SALESFORCE_SECURITY_TOKEN"),
            domain=get("SALESFORCE_DOMAIN") or "login",
            consumer_key=get("SALESFORCE_CONSUMER_KEY"),
            private_key_file=get("SALESFORCE_PRIVATE_KEY_FILE"),
            api_version=get("SALESFORCE_API_VERSION") or "59.0",
            timeout=_number(get("SALESFORCE_TIMEOUT"), "SALESFORCE_TIMEOUT", default=30.0),
            max_api_share=_number(get("SALESFORCE_MAX_API_SHARE"), "SALESFORCE_MAX_API_SHARE", default=0.8),
            ca_bundle=get("SALESFORCE_CA_BUNDLE"),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Raise CrmConfigError for a missing, contradictory or malformed setting."""
        self._validate_auth()
        if not _API_VERSION.match(self.api_version):
            raise CrmConfigError(
                f"SALESFORCE_API_VERSION must look like 59.0 (no leading 'v'), got {self.api_version!r}."
            )
        if not self.timeout > 0:
            raise CrmConfigError(f"SALESFORCE_TIMEOUT must be a positive number of seconds, got {self.timeout}.")
        if not 0 < self.max_api_share <= 1:
            raise CrmConfigError(
                f"SALESFORCE_MAX_API_SHARE must be a fraction in (0, 1], e.g. 0.8; got {self.max_api_share}."
            )
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise CrmConfigError(f"SALESFORCE_CA_BUNDLE points to {self.ca_bundle!r}, which is not a file.")

    def _validate_auth(self) -> None:
        modes = [
            name
            for name, chosen in (
                ("SALESFORCE_SESSION_ID", self.session_id),
                ("SALESFORCE_PASSWORD", self.password),
                ("SALESFORCE_CONSUMER_KEY", self.consumer_key),
            )
            if chosen
        ]
        if not modes:
            raise CrmConfigError(f"Salesforce is not configured: {HOW_TO_AUTHENTICATE} (or CRM_BACKEND=demo).")
        if len(modes) > 1:
            raise CrmConfigError(
                f"Contradictory Salesforce credentials: {' and '.join(modes)} are both set; keep one way to "
                f"authenticate: {HOW_TO_AUTHENTICATE}."
            )
        mode = self.auth_mode
        if mode is AuthMode.SESSION:
            self._require({"SALESFORCE_INSTANCE_URL": self.instance_url}, "a session id")
            if not self.instance_url.startswith("https://"):  # type: ignore[union-attr]
                raise CrmConfigError(
                    f"SALESFORCE_INSTANCE_URL must be an https:// URL such as https://acme.my.salesforce.com, "
                    f"got {self.instance_url!r}."
                )
        elif mode is AuthMode.PASSWORD:
            self._require({"SALESFORCE_USERNAME": self.username}, "SALESFORCE_PASSWORD")
            if self.security_token is None:
                raise CrmConfigError(
                    "SALESFORCE_SECURITY_TOKEN is not set: set it to the user's security token "
                    "(it may be empty when the org trusts this server's IP range)."
                )
        else:
            self._require(
                {"SALESFORCE_PRIVATE_KEY_FILE": self.private_key_file, "SALESFORCE_USERNAME": self.username},
                "SALESFORCE_CONSUMER_KEY",
            )
            if not Path(self.private_key_file).is_file():  # type: ignore[arg-type]
                raise CrmConfigError(
                    f"SALESFORCE_PRIVATE_KEY_FILE points to {self.private_key_file!r}, which is not a readable file."
                )
        if mode is not AuthMode.SESSION and (not _DOMAIN.match(self.domain) or self.domain.endswith(".com")):
            raise CrmConfigError(
                "SALESFORCE_DOMAIN is the part before .salesforce.com: 'login', 'test' (sandbox) or a My Domain "
                f"such as 'acme.my'; got {self.domain!r}."
            )

    @staticmethod
    def _require(values: dict[str, str | None], because: str) -> None:
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise CrmConfigError(f"{' and '.join(missing)} must be set when using {because}.")


def _number(text: str | None, name: str, *, default: float) -> float:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise CrmConfigError(f"{name} must be a number, got {text!r}.") from None


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the embedded demo CRM."""

    state_path: Path
    seed: int = 42
    lead_interval_seconds: int = 240


def demo_config(
    settings: object, environ: Mapping[str, str] | None = None, *, default_dir: Path | None = None
) -> DemoConfig:
    """Read DEMO_CRM_* from Django settings, falling back to the environment, then to defaults."""
    env = os.environ if environ is None else environ

    def value(name: str) -> str | None:
        found = getattr(settings, name, None)
        return str(found) if found not in (None, "") else (env.get(name) or None)

    state = value("DEMO_CRM_STATE")
    base = default_dir or Path(getattr(settings, "VAR_DIR", "var"))
    seed = value("DEMO_CRM_SEED")
    interval = value("DEMO_CRM_LEAD_INTERVAL")
    try:
        config = DemoConfig(
            state_path=Path(state) if state else Path(base) / "demo_crm.json",
            seed=int(seed) if seed else 42,
            lead_interval_seconds=int(interval) if interval else 240,
        )
    except ValueError as exc:
        raise CrmConfigError(f"DEMO_CRM_SEED and DEMO_CRM_LEAD_INTERVAL must be integers ({exc}).") from None
    if config.lead_interval_seconds < 10:
        raise CrmConfigError("DEMO_CRM_LEAD_INTERVAL must be at least 10 (business seconds between new leads).")
    return config
