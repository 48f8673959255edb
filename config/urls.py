"""URL configuration: pages, the REST API under /api/, the admin and a health check."""
from django.contrib import admin
from django.urls import include, path

from handoff.views.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("handoff.urls")),
]
