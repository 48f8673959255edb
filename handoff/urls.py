"""The HTML pages: sign-in, each role's lists, a lead's page and one POST route per handoff action."""
from django.contrib.auth import views as auth_views
from django.urls import path

from handoff.views import actions, feedback, home, leads, manager, marketer, quality, rep, reports
from handoff.views.login import throttle_login

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", throttle_login(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("qualify/", marketer.leads_to_qualify, name="leads_to_qualify"),
    path("rejected/", marketer.rejected_handoffs, name="rejected_handoffs"),
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
]
