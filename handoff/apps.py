"""App configuration."""
from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Lead handoff"
    default_auto_field = "django.db.models.BigAutoField"
