"""The front door: each role lands on the list it works from."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from handoff.models import Role

from .common import user_roles

# A person with several roles lands on the first page of this list they may see.
LANDING = [
    (Role.MARKETER, "leads_to_qualify"),
    (Role.SALES_REP, "my_handoffs"),
    (Role.MANAGER, "team_handoffs"),
]


@login_required
def home(request):
    roles = user_roles(request.user)
    for role, url_name in LANDING:
        if role in roles:
            return redirect(url_name)
    if request.user.is_staff:
        return redirect("admin:index")
    return render(request, "handoff/no_role.html", status=403)
