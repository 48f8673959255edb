"""/api/reports/: the manager reports for integrations, as JSON or (`?format=csv`) any of the report page's tables.

- `GET /api/reports/`: both sides of the agreement per group, per week and in total, the rejection reasons and the
  MQL volume targets (managers: their teams; marketing: every team, not by rep; admins: all);
- `GET /api/reports/relationship/`: where the relationship stands (the organisation, or `?team=`);
- `GET /api/reports/my-sla/`: a rep's own month beside their team's median.

The same selectors as the pages, so the numbers are the pages' numbers. `format` (json, csv) is read from the query
string only; errors are always JSON.
"""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from handoff.forms import ReportFilterForm
from handoff.models import Role
from handoff.selectors.people import user_has_role
from handoff.selectors.quality import report_zone
from handoff.selectors.reports import (
    GROUPS,
    LEVELS,
    PRESETS,
    REPORT_TABLES,
    ROW_FIELDS,
    THRESHOLDS,
    Report,
    ReportDenied,
    check_query,
    my_sla,
    my_sla_table,
    relationship,
    relationship_table,
    report,
    report_scope,
    report_tables,
    report_today,
    table_csv,
    threshold,
    visible_teams,
)

from .serializers import ErrorSerializer


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data.encode("utf-8")


class FormatByQuery:
    """`?format=json|csv` decides the body (not the Accept header); an unknown format is a 400; errors are JSON.

    Only JSON is a renderer of the view, so the schema states every error as JSON; the CSV body is documented on
    the 200 of each operation.
    """

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        wanted = request.query_params.get("format", "")
        self.bad_format = wanted if wanted not in ("", "json", "csv") else None
        if wanted == "csv":
            return CSVRenderer(), CSVRenderer.media_type
        return JSONRenderer(), JSONRenderer.media_type

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def check_format(self) -> None:
        if self.bad_format is not None:
            raise ValidationError({"format": ["Use format=json or format=csv."]})

    @staticmethod
    def csv(request: Request, text: str, name: str) -> Response:
        return Response(text, headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


class CanReadReports(permissions.BasePermission):
    message = "The reports are for managers, marketing and admins; a rep reads their own at /api/reports/my-sla/."

    def has_permission(self, request, view) -> bool:
        return report_scope(request.user) is not None


class IsRep(permissions.BasePermission):
    message = "My SLA is a sales rep's own figures."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, Role.SALES_REP)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------
def _field(kind: str) -> serializers.Field:
    if kind == "text":
        return serializers.CharField()
    if kind == "count":
        return serializers.IntegerField()
    if kind == "yes/no":
        return serializers.BooleanField(allow_null=True, help_text="Null: no minimum agreed, or nothing decided.")
    help_text = {"pct": "Percent, one decimal.", "hours": "Business hours, two decimals.",
                 "rating": "1 to 5, two decimals."}[kind]
    return serializers.FloatField(allow_null=True, help_text=help_text)


ReportRowSerializer = type(
    "ReportRowSerializer",
    (serializers.Serializer,),
    {"__doc__": "The figures of one group (or week, or the total); null where there is nothing to count.",
     **{key: _field(kind) for key, kind in ROW_FIELDS.items()}},
)


class ReportPeriodSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(choices=list(PRESETS))
    start = serializers.DateField()
    end = serializers.DateField(help_text="Included.")
    time_zone = serializers.CharField(help_text="The zone of the days and weeks (TIME_ZONE).")


class ReportFiltersSerializer(serializers.Serializer):
    team = serializers.IntegerField(allow_null=True)
    rep = serializers.IntegerField(allow_null=True)
    source = serializers.CharField(allow_null=True)
    segment = serializers.CharField(allow_null=True)
    definition_version = serializers.IntegerField(allow_null=True)
    policy_version = serializers.IntegerField(allow_null=True)


class ReasonRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The reject reason's code.")
    label = serializers.CharField()
    count = serializers.IntegerField()
    share_pct = serializers.FloatField(allow_null=True)
    cumulative_pct = serializers.FloatField(allow_null=True)


class TargetWeekSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="Its Monday.")
    mqls = serializers.IntegerField()
    met = serializers.BooleanField()


class TargetSerializer(serializers.Serializer):
    team = serializers.CharField(help_text="Empty: every team.")
    segment = serializers.CharField(help_text="Empty: every segment.")
    label = serializers.CharField()
    per_week = serializers.IntegerField()
    weeks_met = serializers.IntegerField()
    weeks = TargetWeekSerializer(many=True)


class ReportSerializer(serializers.Serializer):
    period = ReportPeriodSerializer()
    group_by = serializers.ChoiceField(choices=list(GROUPS))
    group_label = serializers.CharField()
    filters = ReportFiltersSerializer()
    as_of = serializers.DateTimeField(allow_null=True, help_text="When the report summary was last refreshed.")
    policy_version = serializers.IntegerField(allow_null=True, help_text="Whose targets and minimum apply.")
    min_acceptance_rate_pct = serializers.FloatField(allow_null=True)
    groups = ReportRowSerializer(many=True)
    total = ReportRowSerializer()
    weeks = ReportRowSerializer(many=True)
    reasons = ReasonRowSerializer(many=True)
    targets = TargetSerializer(many=True)


class ReportParamsSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(PRESETS), required=False,
                                     help_text="Default last_4_weeks (custom when start or end is given).")
    start = serializers.DateField(required=False, help_text="With period=custom.")
    end = serializers.DateField(required=False, help_text="With period=custom; default today.")
    group_by = serializers.ChoiceField(choices=list(GROUPS), required=False,
                                       help_text="Default rep for a manager, team otherwise; marketing: not rep.")
    team = serializers.IntegerField(required=False, min_value=1, help_text="A team's id.")
    rep = serializers.IntegerField(required=False, min_value=1, help_text="A rep's user id (not for marketing).")
    source = serializers.CharField(required=False, max_length=255, help_text="The lead source, exactly.")
    segment = serializers.CharField(required=False, max_length=40, help_text="The SLA segment.")
    definition_version = serializers.IntegerField(required=False, min_value=1)
    policy_version = serializers.IntegerField(required=False, min_value=1)
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, help_text="Default json.")
    table = serializers.ChoiceField(choices=list(REPORT_TABLES), required=False,
                                    help_text="With format=csv: which of the page's tables (default sales).")


class FormatParamsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, help_text="Default json.")


class RelationshipParamsSerializer(FormatParamsSerializer):
    team = serializers.IntegerField(required=False, min_value=1,
                                    help_text="One of your teams; left out: the organisation (or a manager's team).")


class CriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    level = serializers.ChoiceField(choices=list(LEVELS[1:]))
    value = serializers.CharField()
    threshold = serializers.CharField()
    met = serializers.BooleanField()
    next_step = serializers.CharField(help_text="What to do, when not met (empty when met).")
    link = serializers.CharField(help_text="The data behind it.")


class ThresholdSerializer(serializers.Serializer):
    setting = serializers.CharField()
    value = serializers.IntegerField()
    default = serializers.IntegerField()
    meaning = serializers.CharField()


class RelationshipSerializer(serializers.Serializer):
    team = serializers.IntegerField(allow_null=True, help_text="Null: the organisation.")
    team_name = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    as_of = serializers.DateTimeField(allow_null=True)
    level = serializers.ChoiceField(choices=list(LEVELS))
    level_text = serializers.CharField()
    next_level = serializers.CharField(allow_null=True)
    criteria = CriterionSerializer(many=True)
    thresholds = ThresholdSerializer(many=True)


class MySlaSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    as_of = serializers.DateTimeField(allow_null=True)
    handoffs = serializers.IntegerField()
    accept_attainment_pct = serializers.FloatField(allow_null=True)
    accept_met = serializers.IntegerField()
    accept_due = serializers.IntegerField()
    first_touch_attainment_pct = serializers.FloatField(allow_null=True)
    first_touch_met = serializers.IntegerField()
    first_touch_due = serializers.IntegerField()
    follow_up_attainment_pct = serializers.FloatField(allow_null=True)
    breaches = serializers.IntegerField()
    accept_median_h = serializers.FloatField(allow_null=True)
    first_touch_median_h = serializers.FloatField(allow_null=True)
    team = serializers.CharField(help_text="Your team's name; empty without a team.")
    team_accept_median_h = serializers.FloatField(allow_null=True)
    team_accept_attainment_pct = serializers.FloatField(allow_null=True)


def _responses(serializer) -> dict:
    return {
        (200, "application/json"): serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With format=csv: a table as CSV."),
        (400, "application/json"): OpenApiResponse(ErrorSerializer, description="A bad parameter; `field` names it."),
    }


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------
class ReportView(FormatByQuery, APIView):
    permission_classes = [permissions.IsAuthenticated, CanReadReports]

    @extend_schema(
        summary="The report: both sides of the agreement per group, per week and in total",
        description=__doc__,
        parameters=[ReportParamsSerializer],
        responses=_responses(ReportSerializer),
    )
    def get(self, request: Request) -> Response:
        self.check_format()
        scope = report_scope(request.user)
        form = ReportFilterForm(
            request.query_params, today=report_today(timezone.now()), default_group=scope.default_group(),
            tables=REPORT_TABLES,
        )
        if not form.is_valid():
            field, message = form.first_error()
            raise ValidationError({field or "non_field_errors": [message]})
        query = form.query()
        try:
            check_query(scope, query)
        except ReportDenied as exc:
            raise PermissionDenied(exc.message) from exc
        result = report(scope=scope, query=query)
        tables = report_tables(result)
        if request.accepted_renderer.format == "csv":
            name = form.cleaned_data.get("table") or "sales"
            return self.csv(request, table_csv(tables[name]), f"handoff-{name}-{query.start}-{query.end}")
        return Response(ReportSerializer(_report_body(result, tables)).data)


def _report_body(result: Report, tables) -> dict:
    query = result.query
    minimum = result.policy.min_acceptance_rate if result.policy is not None else None
    return {
        "period": {"preset": query.preset, "start": query.start, "end": query.end, "time_zone": str(report_zone())},
        "group_by": query.group_by,
        "group_label": result.group_label,
        "filters": {name: getattr(query, name) for name in ReportFiltersSerializer().fields},
        "as_of": result.as_of,
        "policy_version": result.policy.version if result.policy is not None else None,
        "min_acceptance_rate_pct": None if minimum is None else round(float(minimum) * 100, 1),
        "groups": tables["sales"].rows,
        "total": tables["sales"].total,
        "weeks": tables["weeks"].rows,
        "reasons": tables["reasons"].rows,
        "targets": [
            {"team": t.team, "segment": t.segment, "label": t.label, "per_week": t.per_week,
             "weeks_met": t.weeks_met, "weeks": [{"week": w.week, "mqls": w.mqls, "met": w.met} for w in t.weeks]}
            for t in result.targets
        ],
    }


class RelationshipView(FormatByQuery, APIView):
    permission_classes = [permissions.IsAuthenticated, CanReadReports]

    @extend_schema(
        summary="Where the relationship stands: the HBR scale, from live evidence",
        parameters=[RelationshipParamsSerializer],
        responses=_responses(RelationshipSerializer),
    )
    def get(self, request: Request) -> Response:
        self.check_format()
        scope = report_scope(request.user)
        params = RelationshipParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        teams = dict(visible_teams(scope))
        team = params.validated_data.get("team")
        if team is not None and team not in teams:
            raise PermissionDenied("Not one of your teams.")
        if team is None and not scope.everything:
            if not teams:
                raise PermissionDenied("You manage no team.")
            team = next(iter(teams))
        result = relationship(scope=scope, team=team, team_name=teams.get(team, ""),
                              today=report_today(timezone.now()))
        if request.accepted_renderer.format == "csv":
            return self.csv(request, table_csv(relationship_table(result)), f"handoff-relationship-{result.end}")
        body = {
            "team": team,
            "team_name": result.team,
            "start": result.start,
            "end": result.end,
            "time_zone": str(report_zone()),
            "as_of": result.as_of,
            "level": result.level,
            "level_text": result.level_text,
            "next_level": result.next_level,
            "criteria": result.rows(),
            "thresholds": [
                {"setting": name, "value": threshold(name), "default": default, "meaning": text}
                for name, (default, text) in THRESHOLDS.items()
            ],
        }
        return Response(RelationshipSerializer(body).data)


class MySlaView(FormatByQuery, APIView):
    permission_classes = [permissions.IsAuthenticated, IsRep]

    @extend_schema(
        summary="My SLA: a rep's attainment and median time to accept this month, beside their team's median",
        parameters=[FormatParamsSerializer],
        responses=_responses(MySlaSerializer),
    )
    def get(self, request: Request) -> Response:
        self.check_format()
        card = my_sla(user=request.user, today=report_today(timezone.now()))
        if request.accepted_renderer.format == "csv":
            return self.csv(request, table_csv(my_sla_table(card)), f"handoff-my-sla-{card.end}")
        return Response(MySlaSerializer({**card.row(), "as_of": card.as_of}).data)
