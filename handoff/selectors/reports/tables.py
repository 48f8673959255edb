"""The reports' tables: which figures each shows, in what order, and the same rows as CSV.

A page draws a table from these, the CSV download writes the same rows and the API's JSON carries the same values
under the same names, so the three cannot disagree: every value is rounded once, in `Figures.row()`.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .figures import CLOCK_LABELS, Report
from .personal import MySla
from .relationship import Relationship


@dataclass(frozen=True)
class Column:
    """One column: `key` names the value (in the CSV header and the API's JSON); `unit` follows it on the page
    ("%", "h"); `detail` is a line under it on the page, naming the other values it shows (each one a column of the
    CSV too), e.g. "{accept_met} of {accept_due}"."""

    key: str
    label: str
    unit: str = ""
    detail: str = ""
    detail_keys: tuple[str, ...] = ()


@dataclass
class Table:
    name: str  # the `table` of its CSV download
    title: str
    first: str  # the first column's heading (the group, the week, the reason)
    columns: list[Column]
    rows: list[dict]
    total: dict | None = None  # the "All" row, under the others
    description: str = ""
    first_keys: tuple[str, ...] = ("key", "label")  # what the first column's cell is made of, in the CSV
    notes: list[str] = field(default_factory=list)

    @property
    def csv_keys(self) -> list[str]:
        keys = list(self.first_keys)
        for column in self.columns:
            for key in (column.key, *column.detail_keys):
                if key not in keys:
                    keys.append(key)
        return keys

    @property
    def all_rows(self) -> list[dict]:
        return [*self.rows, *([self.total] if self.total is not None else [])]

    def only(self, keys: list[str]) -> Table:
        """The same rows with fewer columns (a chart's numbers), under the same CSV name."""
        return Table(self.name, self.title, self.first, [c for c in self.columns if c.key in keys], self.rows,
                     self.total, self.description, self.first_keys)


def _attainment(clock: str) -> Column:
    return Column(
        f"{clock}_attainment_pct",
        f"{CLOCK_LABELS[clock]} in SLA",
        "%",
        f"{{{clock}_met}} of {{{clock}_due}} due",
        (f"{clock}_met", f"{clock}_due"),
    )


def _time(key: str, label: str) -> Column:
    return Column(f"{key}_median_h", f"Median {label}", "h", f"P90 {{{key}_p90_h}} h", (f"{key}_p90_h",))


def _share(key: str, label: str) -> Column:
    return Column(f"{key}_pct", label, "%", f"{{{key}}}", (key,))


SALES = [
    Column("handoffs", "Handoffs"),
    _share("accepted", "Accepted"),
    _share("rejected", "Rejected"),
    _share("converted", "Converted"),
    *(_attainment(clock) for clock in ("accept", "first_touch", "follow_up")),
    Column("breaches", "Breaches"),
    _time("accept", "to accept/reject"),
    _time("first_touch", "to first touch"),
    _time("first_connect", "to first connect"),
]
OUTCOMES = [
    Column("disputes", "Disputes"),
    Column("disputes_upheld", "Upheld"),
    Column("disputes_overturned", "Overturned"),
    Column("disputes_undecided", "Undecided"),
    Column("dispute_decision_median_h", "Median to decision", "h"),
    _share("recycled", "Recycled"),
    Column("qualified_first", "1st MQL"),
    Column("qualified_second", "2nd"),
    Column("qualified_third", "3rd"),
    Column("qualified_fourth_plus", "4th+"),
]
MARKETING = [
    Column("handoffs", "MQLs"),
    Column("decided", "Decided"),
    Column("acceptance_rate_pct", "Acceptance rate", "%", "minimum met: {acceptance_met}", ("acceptance_met",)),
    Column("feedback_asked", "Feedback asked"),
    Column("feedback_coverage_pct", "Coverage", "%", "{feedback_answered} answered", ("feedback_answered",)),
    Column("average_rating", "Average rating", "/5"),
]
WEEKS = [
    Column("handoffs", "MQLs"),
    Column("accepted_pct", "Accepted", "%"),
    Column("rejected_pct", "Rejected", "%"),
    Column("converted_pct", "Converted", "%"),
    Column("accept_attainment_pct", "Accept in SLA", "%"),
    Column("first_touch_attainment_pct", "First touch in SLA", "%"),
    Column("follow_up_attainment_pct", "Follow-up in SLA", "%"),
    Column("accept_median_h", "Median to accept", "h"),
    Column("first_touch_median_h", "Median to first touch", "h"),
    Column("first_connect_median_h", "Median to first connect", "h"),
    Column("acceptance_rate_pct", "Acceptance rate", "%"),
    Column("feedback_coverage_pct", "Feedback coverage", "%"),
    Column("average_rating", "Average rating", "/5"),
]


# The report page's tables, each a CSV download (`?format=csv&table=…`), in the order the page shows them.
REPORT_TABLES = ("sales", "outcomes", "marketing", "weeks", "reasons", "targets")


def report_tables(report: Report) -> dict[str, Table]:
    """Every table of the report page, by the name of its CSV download."""
    group = report.group_label
    rows = [figures.row() for figures in report.groups]
    total = report.total.row()
    weeks = [figures.row() for figures in report.weeks]
    tables = {
        "sales": Table("sales", "Sales' side: speed and outcomes", group, SALES, rows, total,
                       "Shares of the handoffs; SLA clocks met in time of those due; business hours."),
        "outcomes": Table("outcomes", "Disputes and recycling", group, OUTCOMES, rows, total,
                          "Disputes of rejections and their decisions; handoffs by how often their lead was an MQL."),
        "marketing": Table("marketing", "Marketing's side: volume and quality", group, MARKETING, rows, total,
                           "Acceptance rate: accepted of the decided (accepted or rejected). Feedback: what reps "
                           "said of the leads."),
        "weeks": Table("weeks", "Week by week", "Week", WEEKS, weeks, None,
                       "Every chart's numbers, by the week the leads were handed over."),
        "reasons": Table(
            "reasons",
            "Why leads were rejected",
            "Reason",
            [Column("count", "Rejections"), Column("share_pct", "Share", "%"),
             Column("cumulative_pct", "Cumulative", "%")],
            [{"key": r.code, "label": r.label, "count": r.count, "share_pct": r.share,
              "cumulative_pct": r.cumulative} for r in report.reasons],
            None,
            "The rejections that stand, most given reason first (a Pareto).",
        ),
        "targets": Table(
            "targets",
            "MQL volume against the agreed targets",
            "Target",
            [Column("week", "Week"), Column("per_week", "Target"), Column("mqls", "MQLs"), Column("met", "Met")],
            [{"key": f"{t.team}|{t.segment}", "label": t.label, "week": w.week.isoformat(), "per_week": t.per_week,
              "mqls": w.mqls, "met": w.met} for t in report.targets for w in t.weeks],
            None,
            "Leads handed over each week, of each target's team and segment, whatever the other filters.",
        ),
    }
    return tables


def relationship_table(result: Relationship) -> Table:
    return Table(
        "relationship",
        "Where the relationship stands",
        "Criterion",
        [Column("level", "Level"), Column("value", "Value"), Column("threshold", "Threshold"), Column("met", "Met"),
         Column("next_step", "Next step")],
        result.rows(),
        None,
        "Each criterion of the level it belongs to; a level is reached when its criteria and those below are met.",
    )


def my_sla_table(card: MySla) -> Table:
    row = {"key": "", "label": "This month", **card.row()}
    return Table(
        "my_sla",
        "My SLA",
        "Period",
        [Column("start", "From"), Column("end", "To"), Column("handoffs", "Handoffs"),
         _attainment("accept"), _attainment("first_touch"), Column("follow_up_attainment_pct", "Follow-up in SLA",
                                                                   "%"),
         Column("breaches", "Breaches"), Column("accept_median_h", "My median to accept/reject", "h"),
         Column("team_accept_median_h", "My team's median", "h"), Column("team", "Team")],
        [row],
        None,
    )


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
def cell(value) -> str:
    """A value as the page and the CSV write it: "" for none, yes/no, numbers as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _safe(text: str) -> str:
    """Text a spreadsheet would run as a formula (a lead source from the CRM may start with "=") is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def table_csv(table: Table) -> str:
    """The table as CSV: a header of the column names (as in the API), then every row and the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    keys = table.csv_keys
    writer.writerow(keys)
    for row in table.all_rows:
        writer.writerow(
            [_safe(value) if isinstance(value, str) else cell(value) for value in (row.get(key) for key in keys)]
        )
    return out.getvalue()
