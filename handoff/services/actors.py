"""Who performs an action: a person with roles, or the system (rule, sync, SLA escalation)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser

from handoff.models import Role
from handoff.models.handoffs import ActorKind


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user: AbstractBaseUser | None = field(default=None, compare=False)

    @classmethod
    def person(cls, user: AbstractBaseUser) -> Actor:
        return cls(ActorKind.USER, user)

    @classmethod
    def rule(cls) -> Actor:
        return cls(ActorKind.RULE)

    @classmethod
    def sync(cls) -> Actor:
        return cls(ActorKind.SYNC)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)

    @cached_property
    def roles(self) -> frozenset[str]:
        if self.user is None or not self.user.is_active:
            return frozenset()
        return frozenset(self.user.groups.values_list("name", flat=True))

    @cached_property
    def managed_team_ids(self) -> frozenset[int]:
        if Role.MANAGER not in self.roles:
            return frozenset()
        return frozenset(self.user.managed_teams.values_list("id", flat=True))

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    def __str__(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return self.kind.label
