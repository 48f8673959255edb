"""Forms of the HTML pages: they parse input; the services decide what the rules of engagement allow."""
from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from handoff.models import FeedbackOutcome, HandoffState, ReasonCode, Touch
from handoff.models.feedback import RATING_LABELS
from handoff.selectors.reports import DEFAULT_PRESET, GROUPS, MAX_DAYS, PRESETS, ReportQuery, preset_period
from handoff.services.handoffs import Decision


def _attrs(attrs: dict) -> str:
    """An element's attributes as Django's `attrs.html` writes them: True bare, False left out, the rest escaped."""
    return "".join(
        f" {name}" if value is True else f' {name}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class PlainSelect(forms.Select):
    """A dropdown written in Python, with the markup of Django's `select.html`: the template engine draws each
    option through two includes (about 25 µs an option, 2-3 ms for a filter bar's dozens of options)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in group_choices:
                parts.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                    f'{conditional_escape(option["label"])}</option>\n'  # the option template's own line end
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))


class ReasonSelect(forms.Select):
    """A reason dropdown whose options say which reasons need a note, so the page can ask for one."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None and instance.requires_note:
            option["attrs"]["data-requires-note"] = "true"
        return option


class ReasonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ReasonCode) -> str:
        return f"{obj.label} — note required" if obj.requires_note else obj.label


def reason_field(kind: str) -> forms.ModelChoiceField:
    return ReasonChoiceField(
        queryset=ReasonCode.objects.filter(kind=kind, is_active=True),
        to_field_name="code",
        empty_label="Choose a reason…",
        widget=ReasonSelect(attrs={"data-reason": "true"}),
        error_messages={
            "required": "Choose a reason.",
            "invalid_choice": "Choose one of the listed reasons.",
        },
    )


class ReasonNoteForm(forms.Form):
    """A reason and a note, always shown; a reason marked "requires a note" makes the note required."""

    def clean(self):
        data = super().clean()
        reason = data.get("reason")
        if reason is not None and reason.requires_note and not (data.get("note") or "").strip():
            self.add_error("note", f"The reason “{reason.label}” needs a note that explains it.")
        return data


def note_field(placeholder: str = "Note (optional)", help_text: str = "") -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=2000,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": placeholder}),
    )


class NoteForm(forms.Form):
    """Accept, convert and qualify take an optional note only."""

    note = note_field()


NOTE_HELP = "Optional; required for a reason marked “note required”."


class RejectForm(ReasonNoteForm):
    reason = reason_field(ReasonCode.Kind.REJECT)
    note = note_field(
        "What you found: context for marketing, and for a manager deciding a dispute", help_text=NOTE_HELP
    )


class RecycleForm(ReasonNoteForm):
    reason = reason_field(ReasonCode.Kind.RECYCLE)
    note = note_field(help_text=NOTE_HELP)


class DisputeForm(ReasonNoteForm):
    reason = reason_field(ReasonCode.Kind.DISPUTE)
    note = note_field("Why the rejection should be overturned: the manager decides on this", help_text=NOTE_HELP)


class TouchForm(forms.Form):
    kind = forms.ChoiceField(choices=Touch.Kind.choices, initial=Touch.Kind.CALL)
    outcome = forms.ChoiceField(choices=Touch.Outcome.choices, initial=Touch.Outcome.ATTEMPT)
    at = forms.DateTimeField(
        required=False,
        label="When",
        help_text="Leave empty for now; a call made earlier: when it happened, in your time zone.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Give the date and time it happened, e.g. 2026-03-09 14:30."},
    )
    note = note_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's picker refuses a time in the future; the service refuses it whatever the browser does.
        self.fields["at"].widget.attrs["max"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M")

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at is not None and at > timezone.now():
            raise forms.ValidationError("A touch cannot be logged in the future.")
        return at


class PauseForm(forms.Form):
    """A manual pause or resume of a handoff's SLA milestones: always with the reason, for the audit log."""

    note = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. The customer asked to be called after the 20th"}),
        error_messages={"required": "Say why: the reason goes into the lead's history."},
    )


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(Decision.UPHOLD, "Uphold the rejection"), (Decision.OVERTURN, "Overturn: back to the rep")],
        error_messages={"required": "Choose to uphold or to overturn."},
    )
    note = note_field("What you decided and why")


class TickedForm(forms.Form):
    """The rows ticked on a list, among the ids the reader may act on there (a bulk action's input)."""

    handoffs = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Tick the leads first."})
    verb = "change"

    def __init__(self, *args, handoff_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handoffs"].choices = [(pk, pk) for pk in handoff_ids]
        self.fields["handoffs"].error_messages["invalid_choice"] = (
            f"One of the ticked leads is no longer yours to {self.verb}; reload the page."
        )


class BulkRejectForm(RejectForm, TickedForm):
    verb = "reject"


class BulkAcceptForm(NoteForm, TickedForm):
    verb = "accept"


class ReassignForm(forms.Form):
    """Who gets the handoff: one of the manager's reps, or the team queue ("queue")."""

    QUEUE = "queue"
    owner = forms.ChoiceField(error_messages={"required": "Choose a rep, or the queue."})
    note = note_field()

    def __init__(self, *args, reps=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = {str(rep.pk): rep for rep in reps}
        self.fields["owner"].choices = [
            ("", "Choose a rep…"),
            *((pk, rep.get_full_name() or rep.get_username()) for pk, rep in self.reps.items()),
            (self.QUEUE, "The queue (no owner)"),
        ]
        self.fields["owner"].error_messages["invalid_choice"] = "Choose one of your team's reps, or the queue."

    def clean_owner(self):
        value = self.cleaned_data["owner"]
        return None if value == self.QUEUE else self.reps[value]


class BulkReassignForm(ReassignForm, TickedForm):
    verb = "assign"


class BulkQualifyForm(NoteForm):
    leads = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Tick the leads first."})

    def __init__(self, *args, lead_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leads"].choices = [(pk, pk) for pk in lead_ids]
        self.fields["leads"].error_messages["invalid_choice"] = (
            "One of the ticked leads is no longer waiting to be qualified; reload the page."
        )


class RepListForm(forms.Form):
    """The rep's list: what needs them now by default, the rest a filter away."""

    TO_DO, OPEN, ALL = "todo", "open", "all"
    SORTS = {"urgency": "Most urgent first", "newest": "Newest first", "score": "Highest score first"}
    q = forms.CharField(
        required=False, max_length=200, label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name, company or e-mail"}),
    )
    state = forms.ChoiceField(required=False, widget=PlainSelect, choices=[
        (TO_DO, "To do: to accept or to touch"), (OPEN, "Every open lead"), (ALL, "Everything"),
        *HandoffState.choices,
    ])
    source = forms.ChoiceField(required=False, choices=[], widget=PlainSelect)
    segment = forms.ChoiceField(required=False, choices=[], widget=PlainSelect)
    breached = forms.ChoiceField(
        required=False, widget=PlainSelect,
        choices=[("", "Breached or not"), ("yes", "Breached an SLA"), ("no", "Never breached")],
    )
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()), widget=PlainSelect)

    def __init__(self, *args, sources=(), segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [("", "Any source"), *((s, s) for s in sources)]
        self.fields["segment"].choices = [("", "Any SLA segment"), *((s, s) for s in segments)]


class LeadSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name, email or company"}),
    )


class TeamFilterForm(forms.Form):
    QUEUE = "queue"
    q = forms.CharField(
        required=False, max_length=200, label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name, company or e-mail"}),
    )
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *HandoffState.choices], widget=PlainSelect)
    rep = forms.ChoiceField(required=False, choices=[], widget=PlainSelect)
    breached = forms.ChoiceField(
        required=False, widget=PlainSelect,
        choices=[("", "Breached or not"), ("yes", "Breached an SLA"), ("no", "Never breached")],
    )

    def __init__(self, *args, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.reps = {str(rep.pk): rep for rep in reps}
        self.fields["rep"].choices = [
            ("", "Any rep"),
            *((pk, rep.get_full_name() or rep.get_username()) for pk, rep in self.reps.items()),
            (self.QUEUE, "The queue"),
        ]


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
