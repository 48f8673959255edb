"""URL configuration: pages, the REST API under /api/ (with its schema and docs), the admin and a health check."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from handoff.views.health import healthz
from handoff.views.login import throttle_login

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The admin's sign-in page, with the same sign-in limits as ours (matched before the admin's own route).
    path("admin/login/", throttle_login(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("handoff.api.urls")),
    path("", include("handoff.urls")),
]

# Errors raised outside DRF's views (no route, a body over the upload limits, a crash): JSON under /api/.
handler400 = "handoff.views.errors.bad_request"
handler403 = "handoff.views.errors.permission_denied"
handler404 = "handoff.views.errors.page_not_found"
handler500 = "handoff.views.errors.server_error"
