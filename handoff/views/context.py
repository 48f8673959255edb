"""Template context: the signed-in person's roles, so pages show each role its own menu (a rep's with the number of
leads they still have to rate)."""
from handoff.models import Role
from handoff.selectors.feedback import feedback_pending_count
from handoff.selectors.people import user_roles


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
    }
