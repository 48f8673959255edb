"""The filter bars' dropdowns are written in Python (forms.PlainSelect) with the markup Django's templates write."""
from __future__ import annotations

import pytest
from django import forms

from handoff.forms import PlainSelect, RepListForm, TeamFilterForm

CHOICES = [("", "Any <rep>"), ("3", "Ann & Bo"), (4, "O'Neil \"Jr\""), ("Group", [("a", "A"), ("b", "B<b>")])]


@pytest.mark.parametrize("value", ["", "3", 4, "b", None, "not listed"])
@pytest.mark.parametrize("attrs", [None, {"id": "id_rep", "required": True, "hidden": False, "data-x": "<&>"}])
def test_a_plain_select_writes_what_django_select_writes(value, attrs):
    django_select = forms.Select(choices=CHOICES, attrs={"class": "a b"}).render("rep", value, attrs)
    plain = PlainSelect(choices=CHOICES, attrs={"class": "a b"}).render("rep", value, attrs)

    assert plain == django_select
    assert "&lt;rep&gt;" in plain and "B&lt;b&gt;" in plain


def test_the_filter_forms_dropdowns_are_the_same_as_with_django_select():
    query = {"state": "accepted", "rep": "queue", "source": "Web <form>", "sort": "score", "breached": "yes"}
    forms_ = [
        TeamFilterForm(query, reps=[]),
        RepListForm(query, sources=["Web <form>", "Event"], segments=["Enterprise"]),
    ]
    for form in forms_:
        for name, field in form.fields.items():
            if not isinstance(field.widget, forms.Select):
                continue
            assert isinstance(field.widget, PlainSelect), name
            plain = str(form[name])
            field.widget = forms.Select(choices=field.widget.choices, attrs=field.widget.attrs)
            assert str(form[name]) == plain, name
