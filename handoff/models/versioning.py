"""Versioned agreements (lead definitions, SLA policies, routing rules): a version that has been applied is frozen."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class FrozenOnceApplied(models.Model):
    """A version whose terms cannot change once it judged or timed a handoff: revise it as version N+1.

    Subclasses have `version` and `name` fields, name their terms (`TERMS`), say when they have been
    applied (`is_applied`) and what to tell whoever tries to change a term (`frozen_message`).
    """

    TERMS: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"v{self.version} {self.name}"  # every versioned agreement has a version number and a name

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and self.is_applied:
            stored = type(self).objects.filter(pk=self.pk).values(*self.TERMS).first()
            if stored and any(stored[name] != getattr(self, name) for name in self.TERMS):
                raise ValidationError(self.frozen_message())
        super().save(*args, **kwargs)

    @property
    def is_applied(self) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must say when a version has been applied")

    def frozen_message(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must say why an applied version cannot change")
