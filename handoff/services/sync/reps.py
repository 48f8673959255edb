"""Owners: CRM users become reps, matched by CRM id or else by email, created when new."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from handoff.models import RepProfile, Role


def reps_sync_from_crm(*, users: Iterable[dict]) -> dict[str, int]:
    """Create or update a rep for every CRM user; return CRM user id → local user id.

    A CRM user is matched by CRM id, else linked to the one existing person with the same email and no CRM
    id; otherwise a person is created: a sales rep with no usable password until an admin gives one. An
    inactive CRM user's profile becomes inactive, so routing skips them.
    """
    by_crm = {u["Id"]: u for u in users if u.get("Id")}
    with transaction.atomic():
        profiles = {
            p.crm_user_id: p for p in RepProfile.objects.select_related("user").filter(crm_user_id__in=list(by_crm))
        }
        unlinked = [u for crm_id, u in by_crm.items() if crm_id not in profiles]
        emails = {(u.get("Email") or "").lower() for u in unlinked} - {""}
        by_email: dict[str, list[User]] = defaultdict(list)
        for user in (
            User.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .filter(Q(profile__isnull=True) | Q(profile__crm_user_id__isnull=True))
            .select_related("profile")
        ):
            by_email[user.email_lower].append(user)
        relink, new_profiles, to_create = [], [], []
        for crm_user in unlinked:
            matches = by_email.get((crm_user.get("Email") or "").lower(), [])
            if len(matches) != 1:
                to_create.append(crm_user)
                continue
            profile = getattr(matches[0], "profile", None)
            if profile is None:
                profile = RepProfile(user=matches[0])
                new_profiles.append(profile)
            else:
                relink.append(profile)
            profile.crm_user_id = crm_user["Id"]
            profiles[crm_user["Id"]] = profile
        RepProfile.objects.bulk_update(relink, ["crm_user_id"])
        if to_create:
            taken = set(
                User.objects.filter(username__in=[_username(u) for u in to_create]).values_list("username", flat=True)
            )
            fresh = []
            for crm_user in to_create:
                username = _username(crm_user)
                user = User(username=f"{username[:130]}-{crm_user['Id']}" if username in taken else username)
                user.set_unusable_password()
                _copy_user(user, crm_user)
                fresh.append(user)
            fresh = User.objects.bulk_create(fresh)
            Group.objects.get(name=Role.SALES_REP).user_set.add(*fresh)
            for crm_user, user in zip(to_create, fresh, strict=True):
                profile = RepProfile(user=user, crm_user_id=crm_user["Id"])
                new_profiles.append(profile)
                profiles[crm_user["Id"]] = profile
        for profile in new_profiles:
            profile.is_active = bool(by_crm[profile.crm_user_id].get("IsActive", True))
        RepProfile.objects.bulk_create(new_profiles)
        changed_profiles, changed_users = [], []
        for crm_id, profile in profiles.items():
            crm_user = by_crm[crm_id]
            active = bool(crm_user.get("IsActive", True))
            if profile.is_active != active:
                profile.is_active = active
                changed_profiles.append(profile)
            before = (profile.user.first_name, profile.user.last_name, profile.user.email)
            _copy_user(profile.user, crm_user)
            if before != (profile.user.first_name, profile.user.last_name, profile.user.email):
                changed_users.append(profile.user)
        RepProfile.objects.bulk_update(changed_profiles, ["is_active"])
        User.objects.bulk_update(changed_users, ["first_name", "last_name", "email"])
    return {crm_id: profile.user_id for crm_id, profile in profiles.items()}


def _username(crm_user: dict) -> str:
    return (crm_user.get("Username") or crm_user["Id"])[:150]


def _copy_user(user: User, crm_user: dict) -> None:
    user.first_name = (crm_user.get("FirstName") or "")[:150]
    user.last_name = (crm_user.get("LastName") or crm_user.get("Name") or "")[:150]
    user.email = (crm_user.get("Email") or "")[:254]
