"""Template context: the signed-in person's roles, so pages show each role its own menu."""
from handoff.models import Role


def roles(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset()}
    names = frozenset(user.groups.values_list("name", flat=True))
    return {
        "user_roles": names,
        "is_marketer": Role.MARKETER in names,
        "is_rep": Role.SALES_REP in names,
        "is_manager": Role.MANAGER in names,
    }
