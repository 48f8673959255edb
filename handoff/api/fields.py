"""Input fields of the API that take what they say and nothing else: no silent coercion, no impossible offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.utils import html

# Real UTC offsets run from -12:00 to +14:00. Python parses up to ±23:59 and PostgreSQL refuses beyond ±15:59.
UTC_OFFSETS = (-timedelta(hours=12), timedelta(hours=14))


def as_utc(moment: datetime) -> datetime:
    """An aware instant in UTC; ValueError when its UTC offset is not one any place uses."""
    offset = moment.utcoffset()
    if offset is not None and not UTC_OFFSETS[0] <= offset <= UTC_OFFSETS[1]:
        hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
        sign = "-" if offset < timedelta(0) else "+"
        raise ValueError(f"{sign}{hours:02}:{minutes:02} is not a UTC offset: offsets run from -12:00 to +14:00.")
    return moment.astimezone(UTC)


class StrictCharField(serializers.CharField):
    """Text only: a JSON number or boolean is refused, not stored as its string ("note": 12345 is a 400)."""

    default_error_messages = {"invalid": "Expected text, got {kind}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", kind=type(data).__name__)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: "12", 12.0 and true are refused. A form body's text is still read as a number."""

    def to_internal_value(self, data):
        from_form = isinstance(getattr(self.root, "initial_data", None), QueryDict)
        if isinstance(data, bool) or not (isinstance(data, int) or (from_form and isinstance(data, str))):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time as text, with a real UTC offset, read as UTC; a number is refused, not guessed at.

    In a form body an empty value is refused too, not read as null: DRF turns `at=` into null (and so "now") for a
    nullable field, accepting a value that is not a date-time. Leave the field out for the default.
    """

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]")
        moment = super().to_internal_value(value)
        try:
            return as_utc(moment)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None
