"""Query-string filters of the lead and handoff lists (django-filter)."""

from __future__ import annotations

import copy

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.template import loader
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

from handoff.models import Handoff, HandoffState, Lead, LeadDefinition, ReasonCode
from handoff.selectors.handoffs import lead_matches
from handoff.selectors.sla import handoffs_breached, handoffs_due_before

from .fields import as_utc


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time with a real UTC offset (-12:00 … +14:00, or none: the server's zone), as UTC."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return as_utc(moment)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class WholeNumberField(forms.IntegerField):
    """Digits with an optional sign, nothing else: Django's IntegerField also reads "1.0", "1_000" and " 1 "."""

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values:
            digits = value[1:] if value[:1] in "+-" else value
            if not (digits.isascii() and digits.isdigit()):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IntegerFilter(filters.NumberFilter):
    """A whole number (NumberFilter reads a decimal: "1.5" or "1e9" are not a sequence or a version)."""

    field_class = WholeNumberField


class StrictBooleanField(forms.Field):
    """true or false (any case; 1 or 0 too); anything else is refused.

    django-filter's boolean widgets read a value they do not know as no value: `?qualified=yes` answered every
    lead, as if the filter had not been given, instead of saying the filter was not understood.
    """

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.VALUES[str(value).lower()]
        except KeyError:
            # The value goes in as a parameter: django-filter %-formats the message, so a "%" in the text a
            # client sent would otherwise break the formatting (a 500).
            raise forms.ValidationError(
                "%(value)r is not a boolean: use true or false.", code="invalid", params={"value": value}
            ) from None


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class IdFilter(IntegerFilter):
    """An id compared as a number: an id that does not exist and one the user cannot see answer alike (empty).

    A ModelChoiceFilter would answer 400 for an unknown id and an empty list for another team's, telling a
    caller which ids exist.
    """


class _CopiedOneLevel(dict):
    """A filter set's filters, whose deep copy copies each filter object and not what it refers to."""

    def __deepcopy__(self, memo) -> dict:
        copies = {}
        for name, filter_ in self.items():
            copies[name] = copied = copy.copy(filter_)
            if copied.method is not None:
                copied.method = copied.method  # its FilterMethod must call this copy's parent, not the original's
        return copies


class FilterSet(filters.FilterSet):
    """django-filter's, doing per request only the work of the filters the query string names.

    Per request django-filter deep-copies every filter of the set, derives a form class from them, builds the form
    (which deep-copies its fields) and cleans every field, given or not: with twelve filters that was a fifth of a
    filtered list's time for the one filter asked. Here the set holds the filters named in the query string (a
    filter not given filters nothing; all of them read one parameter of their own name), each a copy one level deep
    (the filters keep no state of a request but what the base class sets on its copies: model and parent), the
    filters' form fields and the form class for that choice of filters are built once.
    """

    _form_classes: dict[tuple[type, tuple[str, ...]], type] = {}

    def __init__(self, data=None, *args, every_filter: bool = False, **kwargs):
        named = set(data or ())
        self.base_filters = _CopiedOneLevel(
            (name, filter_)
            for name, filter_ in type(self).base_filters.items()
            if every_filter or name in named
        )
        super().__init__(data, *args, **kwargs)
        # A filter builds its form field when first asked (its label read from the model): build it once, on the
        # class's filter, for every later request's copy to share (the form deep-copies the fields it is given).
        for name, copied in self.filters.items():
            base = type(self).base_filters[name]
            if "_field" not in vars(base):
                base._field = copied.field

    def get_form_class(self):
        key = (type(self), tuple(self.filters))
        if key not in FilterSet._form_classes:
            FilterSet._form_classes[key] = super().get_form_class()
        return FilterSet._form_classes[key]


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend; the browsable API's filter form offers every filter of the set, not only those the
    query string names."""

    def to_html(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not issubclass(filterset_class, FilterSet):
            return super().to_html(request, queryset, view)
        filterset = filterset_class(**self.get_filterset_kwargs(request, queryset, view), every_filter=True)
        return loader.get_template(self.template).render({"filter": filterset}, request)


class LeadFilter(FilterSet):
    search = filters.CharFilter(method="filter_search", help_text="Part of the name, email or company; or a CRM id.")
    owner = IdFilter(field_name="owner_id", help_text="The owning rep's user id.")
    status = filters.CharFilter(help_text="The CRM status text, exactly.")
    lead_source = filters.CharFilter()
    country = filters.CharFilter(lookup_expr="iexact")
    is_converted = BooleanFilter()
    is_deleted = BooleanFilter()
    qualified = BooleanFilter(
        field_name="open_handoff_id", lookup_expr="isnull", exclude=True, help_text="Has an open handoff."
    )

    class Meta:
        model = Lead
        fields = ["search", "owner", "status", "lead_source", "country", "is_converted", "is_deleted", "qualified"]

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(lead_matches(value))


class HandoffFilter(FilterSet):
    # distinct=False: django-filter's default made the list SELECT DISTINCT over every column (a sort of every
    # matching row); a filter on the handoff's own column cannot repeat a row.
    state = filters.MultipleChoiceFilter(
        choices=HandoffState.choices, distinct=False, help_text="Repeat for several states."
    )
    owner = IdFilter(field_name="owner_id", help_text="The rep's user id.")
    team = IdFilter(field_name="owner__profile__team_id", help_text="The owning rep's team id.")
    lead = IdFilter(field_name="lead_id", help_text="The lead's id.")
    sequence = IntegerFilter(help_text="1 for a lead's first qualification, 2 after one recycle, …")
    qualified_after = UtcDateTimeFilter(field_name="qualified_at", lookup_expr="gte")
    qualified_before = UtcDateTimeFilter(field_name="qualified_at", lookup_expr="lt")
    handed_after = UtcDateTimeFilter(field_name="handed_at", lookup_expr="gte")
    handed_before = UtcDateTimeFilter(field_name="handed_at", lookup_expr="lt")
    definition_version = IntegerFilter(
        field_name="definition__version", help_text="The lead definition version the lead was qualified under."
    )
    breached = BooleanFilter(method="filter_breached", help_text="Has (true) or has not (false) an SLA breach.")
    due_before = UtcDateTimeFilter(method="filter_due_before", help_text="A running SLA clock is due before.")

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


class LeadDefinitionFilter(filters.FilterSet):
    # Declared, not `filterset_fields`: those map `version` to a decimal filter (0.5 found nothing, with a 200)
    # and `is_active` to a boolean that read any unknown value as no filter.
    version = IntegerFilter()
    is_active = BooleanFilter()

    class Meta:
        model = LeadDefinition
        fields = ["version", "is_active"]
