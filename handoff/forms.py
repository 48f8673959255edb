"""Forms of the HTML pages: they parse input; the services decide what the rules of engagement allow."""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from handoff.models import FeedbackOutcome, HandoffState, ReasonCode, Touch
from handoff.models.feedback import RATING_LABELS
from handoff.selectors.reports import DEFAULT_PRESET, GROUPS, MAX_DAYS, PRESETS, ReportQuery, preset_period
from handoff.services.handoffs import Decision


class ReasonSelect(forms.Select):
    """A reason dropdown whose options say which reasons need a note, so the page can ask for one."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None and instance.requires_note:
            option["attrs"]["data-requires-note"] = "true"
        return option


def reason_field(kind: str) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=ReasonCode.objects.filter(kind=kind, is_active=True),
        to_field_name="code",
        empty_label="Choose a reason…",
        widget=ReasonSelect(attrs={"data-reason": "true"}),
        error_messages={
            "required": "Choose a reason.",
            "invalid_choice": "Choose one of the listed reasons.",
        },
    )


def note_field(placeholder: str = "Note (optional)") -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": placeholder}),
    )


class NoteForm(forms.Form):
    """Accept, convert and qualify take an optional note only."""

    note = note_field()


class RejectForm(forms.Form):
    reason = reason_field(ReasonCode.Kind.REJECT)
    note = note_field()


class RecycleForm(forms.Form):
    reason = reason_field(ReasonCode.Kind.RECYCLE)
    note = note_field()


class DisputeForm(forms.Form):
    reason = reason_field(ReasonCode.Kind.DISPUTE)
    note = note_field("Why the rejection should be overturned")


class TouchForm(forms.Form):
    kind = forms.ChoiceField(choices=Touch.Kind.choices, initial=Touch.Kind.CALL)
    outcome = forms.ChoiceField(choices=Touch.Outcome.choices, initial=Touch.Outcome.ATTEMPT)
    note = note_field()


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(Decision.UPHOLD, "Uphold the rejection"), (Decision.OVERTURN, "Overturn: back to the rep")],
        error_messages={"required": "Choose to uphold or to overturn."},
    )
    note = note_field("What you decided and why")


class BulkRejectForm(RejectForm):
    handoffs = forms.TypedMultipleChoiceField(
        coerce=int,
        error_messages={"required": "Tick the leads to reject."},
    )

    def __init__(self, *args, handoff_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handoffs"].choices = [(pk, pk) for pk in handoff_ids]
        self.fields["handoffs"].error_messages["invalid_choice"] = (
            "One of the ticked leads is no longer yours to reject; reload the page."
        )


class LeadSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name, email or company"}),
    )


class TeamFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *HandoffState.choices])
    rep = forms.ModelChoiceField(required=False, queryset=get_user_model().objects.none(), empty_label="Any rep")

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = reps
        self.fields["rep"].label_from_instance = lambda user: user.get_full_name() or user.get_username()


# --- Sales feedback on lead quality ---------------------------------------------------------------


class FeedbackForm(forms.Form):
    """A rating, feedback reasons (codes) and a note; the feedback service decides what the request allows."""

    rating = forms.TypedChoiceField(
        choices=list(RATING_LABELS.items()),
        coerce=int,
        error_messages={"required": "Choose a rating from 1 to 5.", "invalid_choice": "A rating is from 1 to 5."},
    )
    reasons = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose among the listed reasons."},
    )
    note = note_field("What marketing should know (optional)")
    revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, reasons: list[ReasonCode], rating: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reasons"].choices = [(reason.code, reason.label) for reason in reasons]
        if not rating:  # a one-click link carries its rating
            del self.fields["rating"]


class QualityPeriodForm(forms.Form):
    """The period of the lead quality report: leads handed over from `start` to `end`, both days included."""

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    MAX_DAYS = 2 * 366

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("start", "The period starts after it ends.")
            elif (end - start).days > self.MAX_DAYS:
                self.add_error("start", "Choose a period of at most two years.")
        return data


class QualityFilterForm(QualityPeriodForm):
    """Which requests a figure of the report stands for (see `selectors.quality.QualityFilter`)."""

    source = forms.CharField(required=False, max_length=255)
    segment = forms.CharField(required=False, max_length=40)
    definition = forms.IntegerField(required=False, min_value=1)
    week = forms.DateField(required=False)
    rating = forms.TypedChoiceField(required=False, choices=[("", "")] + list(RATING_LABELS.items()), coerce=int,
                                    empty_value=None)
    reason = forms.SlugField(required=False, max_length=40)
    reject_reason = forms.SlugField(required=False, max_length=40)
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *((value, label) for value, label in FeedbackOutcome.choices if value != "withdrawn")],
    )


class WholeNumber(forms.IntegerField):
    """Digits only (Django's IntegerField also reads "1.0" and " 1 "); an id or a version from 1."""

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values and not (value.isascii() and value.isdigit()):
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return super().to_python(value)


REPORT_YEARS = (2000, 2999)  # the dates a report may start and end at (beyond them: no leads, and no calendar)


class ReportFilterForm(forms.Form):
    """The manager reports' filters, for the pages and the API alike (the query string of either)."""

    period = forms.ChoiceField(required=False, choices=[])
    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"], help_text="With period=custom: YYYY-MM-DD.")
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"], help_text="With period=custom; default today.")
    group_by = forms.ChoiceField(required=False, choices=[])
    team = WholeNumber(required=False, min_value=1, max_value=2**63 - 1)
    rep = WholeNumber(required=False, min_value=1, max_value=2**63 - 1)
    source = forms.CharField(required=False, max_length=255, strip=False)
    segment = forms.CharField(required=False, max_length=40, strip=False)
    definition_version = WholeNumber(required=False, min_value=1, max_value=2**31 - 1)
    policy_version = WholeNumber(required=False, min_value=1, max_value=2**31 - 1)
    table = forms.ChoiceField(required=False, choices=[])

    def __init__(self, *args, today, default_group: str, tables=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.today, self.default_group = today, default_group
        self.fields["period"].choices = list(PRESETS.items())
        self.fields["group_by"].choices = list(GROUPS.items())
        self.fields["table"].choices = [(name, name) for name in tables]

    def clean(self):
        data = super().clean()
        period = data.get("period") or ""
        if not period:
            period = "custom" if data.get("start") or data.get("end") else DEFAULT_PRESET
        data["period"] = period
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not REPORT_YEARS[0] <= day.year <= REPORT_YEARS[1]:
                self.add_error(name, f"Give a date from {REPORT_YEARS[0]} to {REPORT_YEARS[1]}.")
        if period == "custom":
            if "start" in self.errors or "end" in self.errors:
                return data
            start, end = data.get("start"), data.get("end") or self.today
            if start is None:
                self.add_error("start", "A custom period needs a start date (YYYY-MM-DD).")
                return data
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("start", f"A custom period is at most {MAX_DAYS} days.")
            data["start"], data["end"] = start, end
        else:
            data["start"], data["end"] = preset_period(period, self.today)
        data["group_by"] = data.get("group_by") or self.default_group
        for name in ("source", "segment"):
            data[name] = data.get(name) or None
        return data

    def query(self):
        data = self.cleaned_data
        return ReportQuery(
            start=data["start"],
            end=data["end"],
            preset=data["period"],
            group_by=data["group_by"],
            team=data.get("team"),
            rep=data.get("rep"),
            source=data.get("source"),
            segment=data.get("segment"),
            definition_version=data.get("definition_version"),
            policy_version=data.get("policy_version"),
        )

    def first_error(self) -> tuple[str | None, str]:
        """(field, message) of the first problem, the field None for the form as a whole."""
        field, messages = next(iter(self.errors.items()))
        return (None if field == "__all__" else field), messages[0]
