"""The manager reports' one query layer, behind the pages, the API and the CSV downloads.

- `scope`: who may see which figures, the filters, periods and groups;
- `figures`: what the figures of both sides of the agreement are, per group, per week and in total;
- `counts`: reading them from the report summary (day counts, and the facts for percentiles and disputes);
- `marketing`: marketing's side: the policy's terms, MQL volume against its targets, the rejection reasons;
- `summary`: a report put together for a reader, cached until the summary is refreshed;
- `percentiles`: percentiles in the database (PostgreSQL's percentile_cont, window functions elsewhere);
- `tables`: the tables the pages show and the CSV files hold;
- `relationship`: where the relationship stands on the HBR scale;
- `personal`: a rep's "My SLA" card and a manager's weekly mail figures.
"""

from .counts import DAY_KEYS, day_counts, day_rows, figures_by
from .figures import (
    CLOCK_LABELS,
    ROW_FIELDS,
    TIMES,
    Figures,
    Reason,
    Report,
    Target,
    TargetWeek,
)
from .marketing import terms_policy, volume_targets
from .percentiles import PercentileCont, percentiles
from .personal import HEADLINES, MySla, my_sla, weekly_figures
from .relationship import LEVEL_TEXT, LEVELS, THRESHOLDS, Criterion, Relationship, relationship, threshold
from .scope import (
    DEFAULT_PRESET,
    GROUPS,
    MAX_DAYS,
    PRESETS,
    ReportDenied,
    ReportQuery,
    ReportScope,
    check_query,
    preset_period,
    report_scope,
    report_today,
    visible_teams,
    week_of,
)
from .summary import report, report_total, reports_warm, summary_as_of, summary_state
from .tables import (
    REPORT_TABLES,
    Column,
    Table,
    cell,
    my_sla_table,
    relationship_table,
    report_tables,
    table_csv,
)

__all__ = [
    "CLOCK_LABELS",
    "DAY_KEYS",
    "DEFAULT_PRESET",
    "GROUPS",
    "HEADLINES",
    "LEVELS",
    "LEVEL_TEXT",
    "MAX_DAYS",
    "PRESETS",
    "REPORT_TABLES",
    "ROW_FIELDS",
    "THRESHOLDS",
    "TIMES",
    "Column",
    "Criterion",
    "Figures",
    "MySla",
    "PercentileCont",
    "Reason",
    "Relationship",
    "Report",
    "ReportDenied",
    "ReportQuery",
    "ReportScope",
    "Table",
    "Target",
    "TargetWeek",
    "cell",
    "figures_by",
    "check_query",
    "day_counts",
    "day_rows",
    "my_sla",
    "my_sla_table",
    "percentiles",
    "preset_period",
    "relationship",
    "relationship_table",
    "report",
    "report_scope",
    "report_tables",
    "report_today",
    "reports_warm",
    "report_total",
    "summary_as_of",
    "summary_state",
    "table_csv",
    "terms_policy",
    "threshold",
    "visible_teams",
    "volume_targets",
    "week_of",
    "weekly_figures",
]
