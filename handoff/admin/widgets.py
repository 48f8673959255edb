"""Structured admin inputs for what the models store as JSON: weekly hours (a line per weekday), a calendar day's
hours, and an SLA policy's segments (a row per segment). Errors name the row and the field; the models' own
validation (`businesstime`, `segments`) still decides what is valid."""

from __future__ import annotations

import json
import re

from django import forms

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME = r"\d{1,2}:\d{2}"
_INTERVAL = re.compile(rf"^\s*({_TIME})\s*(?:-|–|—|to)\s*({_TIME})\s*$")
HOURS_HELP = (
    "Opening hours as HH:MM–HH:MM, several separated by commas (09:00–12:30, 13:30–17:00); 24:00 ends at midnight."
)
MINUTES = (("accept_minutes", "minutes to accept"), ("first_touch_minutes", "minutes to first touch"))


def intervals_text(hours) -> str:
    """[["09:00", "12:30"], ["13:30", "17:00"]] → "09:00–12:30, 13:30–17:00"."""
    if not isinstance(hours, list):
        return "" if hours in (None, "") else str(hours)
    try:
        return ", ".join(f"{start}–{end}" for start, end in hours)
    except (TypeError, ValueError):
        return json.dumps(hours)


def parse_intervals(text: str, where: str) -> list[list[str]]:
    """"09:00–12:30, 13:30–17:00" → [["09:00", "12:30"], ["13:30", "17:00"]]; empty → [] (closed)."""
    text = (text or "").strip()
    if not text:
        return []
    found = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        match = _INTERVAL.match(part)
        if match is None:
            raise forms.ValidationError(
                f"{where}: {part.strip()!r} is not a stretch of time; write it as HH:MM–HH:MM, e.g. 09:00–17:00."
            )
        start, end = (value.zfill(5) for value in match.groups())
        for value in (start, end):
            hour, minute = (int(n) for n in value.split(":"))
            if minute > 59 or hour > 24 or (hour == 24 and minute):
                raise forms.ValidationError(f"{where}: {value} is not a time of day (00:00 to 24:00).")
        found.append([start, end])
    return found


class WeeklyHoursWidget(forms.MultiWidget):
    template_name = "handoff/widgets/weekly_hours.html"

    def __init__(self, attrs=None):
        super().__init__([forms.TextInput(attrs={"size": 32, "placeholder": "closed"}) for _ in DAYS], attrs)

    def decompress(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return [""] * len(DAYS)
        if not isinstance(value, list) or len(value) != len(DAYS):
            return [""] * len(DAYS)
        return [intervals_text(day) for day in value]

    def get_context(self, name, value, attrs):
        # The stored week (seven lists of intervals) becomes seven lines; lines posted back are shown as typed.
        if not (isinstance(value, list) and all(isinstance(line, str) for line in value)):
            value = self.decompress(value)
        context = super().get_context(name, value, attrs)
        for day, subwidget in zip(DAYS, context["widget"]["subwidgets"], strict=True):
            subwidget["day"] = day
        context["widget"]["help"] = HOURS_HELP
        return context


class WeeklyHoursField(forms.MultiValueField):
    """Seven lines, Monday first, each that day's opening hours (empty: closed) → the model's seven lists."""

    widget = WeeklyHoursWidget

    def __init__(self, **kwargs):
        for key in ("encoder", "decoder", "max_length", "required"):
            kwargs.pop(key, None)
        fields = [forms.CharField(required=False, max_length=200) for _ in DAYS]
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        data_list = list(data_list or [""] * len(DAYS))
        errors, week = [], []
        for day, text in zip(DAYS, data_list, strict=True):
            try:
                week.append(parse_intervals(text, day))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise forms.ValidationError(errors)
        return week

    def has_changed(self, initial, data):
        return self.compress(self.widget.decompress(initial)) != self._clean_or_none(data)

    def _clean_or_none(self, data):
        try:
            return self.compress(data)
        except forms.ValidationError:
            return None


class DayHoursField(forms.CharField):
    """A calendar day's hours as text: empty closes the whole day, else the hours it is open."""

    def __init__(self, **kwargs):
        for key in ("encoder", "decoder"):
            kwargs.pop(key, None)
        kwargs.update(required=False, max_length=200)
        kwargs.setdefault("help_text", "Empty: closed all day. Else the hours it is open, e.g. 10:00–14:00.")
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("placeholder", "closed all day")

    def prepare_value(self, value):
        if isinstance(value, str) and value.startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return intervals_text(value) if isinstance(value, list) else value

    def to_python(self, value):
        return parse_intervals(super().to_python(value), "Hours")


# --- SLA policy segments --------------------------------------------------------------------------------------------

SEGMENT_FIELDS = ("name", "accept_minutes", "first_touch_minutes", "when")
SPARE_ROWS = 2


class SegmentsWidget(forms.Widget):
    """A table with a row per segment (and two empty ones to add one): name, minutes to accept, to first touch, and
    the conditions it matches (the lead definition's JSON; empty: every lead)."""

    template_name = "handoff/widgets/segments.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = []
        rows = []
        for item in value if isinstance(value, list) else []:
            item = item if isinstance(item, dict) else {}
            when = item.get("when", [])
            rows.append({
                "name": item.get("name", ""),
                "accept_minutes": item.get("accept_minutes", ""),
                "first_touch_minutes": item.get("first_touch_minutes", ""),
                "when": when if isinstance(when, str) else (json.dumps(when) if when else ""),
            })
        rows += [dict.fromkeys(SEGMENT_FIELDS, "") for _ in range(SPARE_ROWS)]
        context["widget"]["rows"] = rows
        context["widget"]["count"] = len(rows)
        return context

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-rows", 0)), 100)
        except (TypeError, ValueError):
            count = 0
        return [{key: data.get(f"{name}-{i}-{key}", "") for key in SEGMENT_FIELDS} for i in range(count)]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data


class SegmentsField(forms.Field):
    """The rows of SegmentsWidget → the policy's segments JSON; an error names the segment's row and its field."""

    widget = SegmentsWidget

    def __init__(self, **kwargs):
        for key in ("encoder", "decoder", "max_length"):
            kwargs.pop(key, None)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return value

    def to_python(self, value):
        if not isinstance(value, list):
            return value
        segments, errors = [], []
        for i, row in enumerate(value, start=1):
            row = {key: str(row.get(key, "")).strip() for key in SEGMENT_FIELDS}
            if not any(row.values()):
                continue  # an empty spare row
            where = f"Segment {i} ({row['name']})" if row["name"] else f"Segment {i}"
            segment = {"name": row["name"]}
            if not row["name"]:
                errors.append(f"{where}, name: give the segment a name, e.g. hot.")
            for key, label in MINUTES:
                text = row[key]
                if not text.isdigit() or int(text) <= 0:
                    errors.append(f"{where}, {label}: give a whole number of business minutes above 0, not {text!r}.")
                else:
                    segment[key] = int(text)
            try:
                when = json.loads(row["when"]) if row["when"] else []
            except ValueError as exc:
                errors.append(f"{where}, conditions: not valid JSON ({exc.msg} at character {exc.pos + 1}).")
                when = []
            segment = {"name": segment["name"], "when": when, **{k: v for k, v in segment.items() if k != "name"}}
            segments.append(segment)
        if errors:
            raise forms.ValidationError(errors)
        return segments

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != initial
        except forms.ValidationError:
            return True
