"""Query-string filters of the lead and handoff lists (django-filter)."""

from __future__ import annotations

import django_filters as filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from handoff.models import Handoff, HandoffState, Lead, ReasonCode, Team
from handoff.selectors.sla import handoffs_breached, handoffs_due_before


class LeadFilter(filters.FilterSet):
    search = filters.CharFilter(method="filter_search", help_text="Part of the name, email or company; or a CRM id.")
    owner = filters.ModelChoiceFilter(queryset=get_user_model().objects.all(), help_text="The owning rep's user id.")
    status = filters.CharFilter(help_text="The CRM status text, exactly.")
    lead_source = filters.CharFilter()
    country = filters.CharFilter(lookup_expr="iexact")
    is_converted = filters.BooleanFilter()
    is_deleted = filters.BooleanFilter()
    qualified = filters.BooleanFilter(
        field_name="open_handoff_id", lookup_expr="isnull", exclude=True, help_text="Has an open handoff."
    )

    class Meta:
        model = Lead
        fields = ["search", "owner", "status", "lead_source", "country", "is_converted", "is_deleted", "qualified"]

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(company__icontains=value)
            | Q(crm_id=value)
        )


class HandoffFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=HandoffState.choices, help_text="Repeat for several states.")
    owner = filters.ModelChoiceFilter(queryset=get_user_model().objects.all(), help_text="The rep's user id.")
    team = filters.ModelChoiceFilter(
        field_name="owner__profile__team", queryset=Team.objects.all(), help_text="The owning rep's team id."
    )
    lead = filters.NumberFilter(field_name="lead", help_text="The lead's id.")
    sequence = filters.NumberFilter(help_text="1 for a lead's first qualification, 2 after one recycle, …")
    qualified_after = filters.IsoDateTimeFilter(field_name="qualified_at", lookup_expr="gte")
    qualified_before = filters.IsoDateTimeFilter(field_name="qualified_at", lookup_expr="lt")
    handed_after = filters.IsoDateTimeFilter(field_name="handed_at", lookup_expr="gte")
    handed_before = filters.IsoDateTimeFilter(field_name="handed_at", lookup_expr="lt")
    definition_version = filters.NumberFilter(
        field_name="definition__version", help_text="The lead definition version the lead was qualified under."
    )
    breached = filters.BooleanFilter(method="filter_breached", help_text="Has (true) or has not (false) an SLA breach.")
    due_before = filters.IsoDateTimeFilter(method="filter_due_before", help_text="A running SLA clock is due before.")

    def filter_breached(self, queryset: QuerySet[Handoff], name: str, value: bool | None) -> QuerySet[Handoff]:
        return queryset if value is None else handoffs_breached(queryset, breached=value)

    def filter_due_before(self, queryset: QuerySet[Handoff], name: str, value) -> QuerySet[Handoff]:
        return queryset if value is None else handoffs_due_before(queryset, value)

    class Meta:
        model = Handoff
        fields = [
            "state",
            "owner",
            "team",
            "lead",
            "sequence",
            "qualified_after",
            "qualified_before",
            "handed_after",
            "handed_before",
            "definition_version",
            "breached",
            "due_before",
        ]


class ReasonCodeFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=ReasonCode.Kind.choices)

    class Meta:
        model = ReasonCode
        fields = ["kind"]
