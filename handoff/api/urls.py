"""The REST API's routes under /api/: leads, handoffs and their actions, sales feedback, reference data, sync runs,
tokens."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .auth import obtain_auth_token
from .feedback import FeedbackRequestViewSet
from .reports import MySlaView, RelationshipView, ReportView
from .routing import AwayPeriodViewSet, RoutingQueueViewSet, RoutingRepViewSet, RoutingRulesViewSet
from .sync import SyncRunViewSet
from .views import HandoffViewSet, LeadDefinitionViewSet, LeadViewSet, ReasonCodeViewSet

router = DefaultRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("handoffs", HandoffViewSet, basename="handoff")
router.register("reason-codes", ReasonCodeViewSet, basename="reason-code")
router.register("definitions", LeadDefinitionViewSet, basename="definition")
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
router.register("feedback", FeedbackRequestViewSet, basename="feedback")
router.register("routing/rules", RoutingRulesViewSet, basename="routing-rules")
router.register("routing/reps", RoutingRepViewSet, basename="routing-rep")
router.register("routing/away", AwayPeriodViewSet, basename="routing-away")
router.register("routing/queue", RoutingQueueViewSet, basename="routing-queue")

app_name = "api"
urlpatterns = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("reports/", ReportView.as_view(), name="report"),
    path("reports/relationship/", RelationshipView.as_view(), name="report-relationship"),
    path("reports/my-sla/", MySlaView.as_view(), name="report-my-sla"),
    path("", include(router.urls)),
]
