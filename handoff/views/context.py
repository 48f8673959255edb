"""Template context: the signed-in person's roles, so pages show each role its own menu (a rep's with the number of
leads they still have to rate), and the zone their pages' times are in."""
from django.utils import timezone

from handoff.models import Role
from handoff.selectors.feedback import feedback_pending_count
from handoff.selectors.people import user_roles

from .common import user_time_zone


def roles(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset()}
    names = user_roles(user)
    is_rep = Role.SALES_REP in names
    return {
        "user_roles": names,
        "is_marketer": Role.MARKETER in names,
        "is_rep": is_rep,
        "is_manager": Role.MANAGER in names,
        "feedback_pending": feedback_pending_count(user) if is_rep else 0,
        "reader_zone": zone_label(user_time_zone(user)),
    }


def zone_label(zone) -> dict:
    """How a page names its zone: "New York" (the city of the IANA name), with its abbreviation now ("EST")."""
    key = str(zone)
    return {
        "key": key,
        "city": key.rsplit("/", 1)[-1].replace("_", " "),
        "abbreviation": timezone.now().astimezone(zone).tzname(),
    }
