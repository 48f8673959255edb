"""Every table of the report page has a CSV download with exactly its numbers, the API's CSV is the same file, and the
API's JSON carries the same values under the CSV's column names."""
from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest

from handoff.selectors.reports import Column, Table, cell, report_tables, table_csv
from handoff.services import handoffs as machine
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead

from .conftest import report_for

pytestmark = pytest.mark.django_db

PERIOD = {"period": "custom", "start": "2026-03-09", "end": "2026-03-13"}
TABLES = ("sales", "outcomes", "marketing", "weeks", "reasons", "targets")


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class Tables(HTMLParser):
    """The page's tables as text: per section id, each table's rows of cells (each cell: its lines of text)."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, list[list[list[list[str]]]]] = {}
        self.section = None
        self.stack: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("section", "figure") and attrs.get("id"):
            self.section = attrs["id"]
        if tag == "table":
            self.found.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.found[self.section][-1].append([])
        elif tag in ("td", "th"):
            self.cell = [""]
        elif tag == "div" and self.cell is not None:
            self.cell.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.found[self.section][-1][-1].append([line.strip() for line in self.cell if line.strip()])
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[-1] += data


def page_tables(html: str) -> dict[str, list]:
    parser = Tables()
    parser.feed(html)
    return parser.found


def shown(value: str, column: Column) -> str:
    """What the page shows for a CSV value of this column: the value and its unit, "—" for none."""
    if value == "":
        return "—"
    if not column.unit:
        return value
    return f"{value}{column.unit}" if column.unit.startswith("/") else f"{value} {column.unit}"


def test_each_page_table_shows_exactly_the_rows_of_its_csv(cast, week, browser):
    client = browser("manager")
    html = client.get("/reports/", PERIOD).content.decode()
    result = report_for(cast.manager)
    tables = report_tables(result)
    on_page = page_tables(html)

    for name in TABLES:
        table: Table = tables[name]
        download = client.get("/reports/", {**PERIOD, "format": "csv", "table": name})
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        assert download["Content-Disposition"] == f'attachment; filename="handoff-{name}-2026-03-09-2026-03-13.csv"'
        lines = rows_of(download.content.decode())
        assert lines, name
        body = on_page[name][0][1:]  # the section's first table, its header row left out
        assert len(body) == len(lines), name
        for page_row, line in zip(body, lines, strict=True):
            assert page_row[0] == [line["label"]], name
            for page_cell, column in zip(page_row[1:], table.columns, strict=True):
                assert page_cell[0] == shown(line[column.key], column), (name, column.key)
                if len(page_cell) > 1:  # the line under the value: the other values of the cell, each in the CSV
                    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?|\byes\b|\bno\b", page_cell[1])
                    assert numbers == [line[key] for key in column.detail_keys], (name, column.key)


def test_the_apis_csv_is_the_pages_and_its_json_has_the_same_values(cast, week, api, browser):
    client, caller = browser("manager"), api("manager")
    body = caller.get("/api/reports/", PERIOD).json()

    for name in TABLES:
        from_api = caller.get("/api/reports/", {**PERIOD, "format": "csv", "table": name})
        from_page = client.get("/reports/", {**PERIOD, "format": "csv", "table": name})
        assert from_api.status_code == 200 and from_api["Content-Type"] == "text/csv; charset=utf-8"
        assert from_api.content == from_page.content, name
    json_rows = {
        "sales": [*body["groups"], body["total"]],
        "outcomes": [*body["groups"], body["total"]],
        "marketing": [*body["groups"], body["total"]],
        "weeks": body["weeks"],
        "reasons": body["reasons"],
        "targets": [{"key": f"{t['team']}|{t['segment']}", "label": t["label"], "per_week": t["per_week"], **w}
                    for t in body["targets"] for w in t["weeks"]],
    }
    for name, expected in json_rows.items():
        lines = rows_of(caller.get("/api/reports/", {**PERIOD, "format": "csv", "table": name}).content.decode())
        assert len(lines) == len(expected), name
        for line, row in zip(lines, expected, strict=True):
            assert {key: cell(row[key]) for key in line} == line, name


def test_the_csv_default_table_is_sales_and_sales_has_a_total_row(cast, week, api):
    lines = rows_of(api("manager").get("/api/reports/", {**PERIOD, "format": "csv"}).content.decode())

    assert [line["label"] for line in lines] == ["rita.rep", "All"]
    assert lines[-1]["handoffs"] == "9" and lines[-1]["accept_attainment_pct"] == "88.9"


def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted_in_the_csv(cast, clock):
    clock("Mon 09:00")
    machine.handoff_qualify(lead=make_lead(owner=cast.rep, lead_source='=HYPERLINK("http://x","y")'),
                            actor=cast.actor("marketer"))
    report_facts_refresh()
    text = table_csv(report_tables(report_for(cast.manager, group_by="source"))["sales"])

    assert rows_of(text)[0]["label"] == "'=HYPERLINK(\"http://x\",\"y\")"


def test_an_error_asked_for_as_csv_is_the_apis_json_error(cast, week, api):
    response = api("manager").get("/api/reports/", {"format": "csv", "table": "nothing"})

    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["field"] == "table"
