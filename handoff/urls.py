"""The HTML pages: sign-in, each role's lists, a lead's page and one POST route per handoff action."""
from django.contrib.auth import views as auth_views
from django.urls import path

from handoff.views import actions, feedback, home, leads, manager, marketer, mqls, quality, rep, reports, routing
from handoff.views.login import SignOutView, throttle_login

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", throttle_login(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", SignOutView.as_view(), name="logout"),
    path("qualify/", marketer.leads_to_qualify, name="leads_to_qualify"),
    path("rejected/", marketer.rejected_handoffs, name="rejected_handoffs"),
    path("mqls/", mqls.my_mqls, name="my_mqls"),
    path("my-handoffs/", rep.my_handoffs, name="my_handoffs"),
    path("team/", manager.team_handoffs, name="team_handoffs"),
    path("disputes/", manager.disputes, name="disputes"),
    path("leads/<int:pk>/", leads.lead_detail, name="lead_detail"),
    path("leads/<int:pk>/qualify/", marketer.lead_qualify, name="lead_qualify"),
    path("handoffs/<int:pk>/<slug:action>/", actions.handoff_action, name="handoff_action"),
    path("feedback/", feedback.feedback_to_give_page, name="feedback_to_give"),
    path("feedback/<int:pk>/", feedback.feedback_request_page, name="feedback_request"),
    path("feedback/rate/<str:token>/", feedback.feedback_link, name="feedback_link"),
    path("quality/", quality.lead_quality_page, name="lead_quality"),
    path("quality/feedback/", quality.quality_feedback_page, name="quality_feedback"),
    path("reports/", reports.reports_page, name="reports"),
    path("reports/relationship/", reports.relationship_page, name="relationship"),
    path("routing/", routing.routing_page, name="routing"),
    path("routing/away/", routing.routing_away, name="routing_away"),
    path("routing/away/<int:pk>/cancel/", routing.routing_away_cancel, name="routing_away_cancel"),
    path("routing/reps/<int:pk>/", routing.routing_rep, name="routing_rep"),
    path("routing/teams/<int:pk>/", routing.routing_team, name="routing_team"),
]
