"""Charts drawn on the server: SVG with an accessible title and description, every text escaped, a gap where a value
does not exist, bars as long as their values."""
from __future__ import annotations

import re
from xml.etree import ElementTree

from handoff import charts
from handoff.charts import Series

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_a_line_chart_is_an_image_with_a_title_and_a_description_of_every_value():
    svg = charts.line_chart(title="Accepted, %", categories=["Mar 2", "Mar 9"], unit="%",
                            series=[Series("accepted", [50.0, 75.5])])
    root = parse(svg)

    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Accepted, %"
    assert desc.text == "accepted: Mar 2 50%, Mar 9 75.5%"


def test_text_from_the_data_is_escaped():
    svg = charts.bar_chart(title="<b>x</b>", categories=['<script>alert("x")</script>'],
                           series=[Series("a & b", [1.0])])

    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; b" in svg
    parse(svg)  # well-formed


def test_a_value_that_does_not_exist_breaks_the_line_instead_of_drawing_zero():
    svg = charts.line_chart(title="t", categories=["a", "b", "c", "d"],
                            series=[Series("s", [1.0, None, 3.0, 4.0])])
    lines = parse(svg).findall(f"{SVG}polyline")

    assert [len(line.get("points").split()) for line in lines] == [1, 2]
    assert len(parse(svg).findall(f"{SVG}circle")) == 3


def test_bars_are_as_long_as_their_values_on_a_shared_scale():
    svg = charts.bar_chart(title="t", categories=["x", "y"], series=[Series("s", [25.0, 100.0])], top=100)
    widths = [float(rect.get("width")) for rect in parse(svg).findall(f"{SVG}rect")]

    assert widths[1] == 4 * widths[0]


def test_the_pareto_draws_a_column_per_reason_and_the_running_share():
    svg = charts.pareto_chart(title="Reasons", categories=["No budget", "Student"], counts=[3, 1],
                              cumulative=[75.0, 100.0])
    root = parse(svg)

    assert len(root.findall(f"{SVG}rect")) == 2
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 2
    assert re.search(r"No budget 3 \(75.0 % cumulative\)", root.find(f"{SVG}desc").text)
