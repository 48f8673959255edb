"""The read-path benchmark's URLconf: the app's own routes, plus two yardsticks served by the same stack.

- `/bench/trivial/`: a JsonResponse of a constant (what Django, gunicorn and the client cost with no work);
- `/bench/raw/?owner=<id>`: the same 50 rows the rep's `/api/handoffs/` answers first (newest hand-over first,
  with their lead), read with `.values()` and sent as a JsonResponse: no authentication, no visibility, no
  nesting, no milestones, no actions. The API lists are measured as a share of this one.

Bench only: never imported by the app.
"""

from django.http import JsonResponse
from django.urls import include, path

from handoff.models import Handoff

RAW_FIELDS = (
    "id", "sequence", "state", "owner_id", "definition_id", "qualified_by_kind", "note", "dispute_note",
    "qualified_at", "handed_at", "accepted_at", "rejected_at", "disputed_at", "resolved_at", "first_touch_at",
    "first_connect_at", "converted_at", "recycled_at", "closed_at", "updated_at",
    "lead__id", "lead__crm_id", "lead__first_name", "lead__last_name", "lead__email", "lead__company",
    "lead__country", "lead__lead_source", "lead__status", "lead__score",
)


def trivial(request):
    return JsonResponse({"ok": True})


def raw(request):
    mine = Handoff.objects.filter(owner_id=int(request.GET["owner"])).order_by("-handed_at", "-id")
    rows = list(mine.values(*RAW_FIELDS)[:50])
    return JsonResponse({"next": None, "previous": None, "results": rows})


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/raw/", raw),
    path("", include("config.urls")),
]
