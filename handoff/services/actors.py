"""Who performs an action: a person with roles, or the system (rule, sync, SLA escalation)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from django.contrib.auth.models import AbstractBaseUser

from handoff.models import Role
from handoff.models.handoffs import ActorKind
from handoff.selectors.people import managed_teams, user_roles


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user: AbstractBaseUser | None = field(default=None, compare=False)
    # Replaying history the CRM already holds (the demo seed's stories): nothing is owed to the CRM for it.
    replay: bool = field(default=False, compare=False)

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

    @classmethod
    def routing(cls) -> Actor:
        return cls(ActorKind.ROUTING)

    def replaying(self) -> Actor:
        """The same actor re-enacting past actions whose outcome the CRM already has: they are not written back."""
        return replace(self, replay=True)

    @cached_property
    def roles(self) -> frozenset[str]:
        """The person's roles, read once per actor (a list page asks for each row's actions: 80 times a page)."""
        return user_roles(self.user)

    @cached_property
    def managed_team_ids(self) -> frozenset[int]:
        return frozenset(managed_teams(self.user))

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    def __str__(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return self.kind.label
