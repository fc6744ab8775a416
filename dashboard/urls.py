from django.contrib import admin
from django.urls import include, path

from alerts import views as alert_views
from audit import views as audit_views
from dashboard import views
from sso import views as sso_views

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page says; answer with the icon instead of a 404 each time.
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", sso_views.SignInPage.as_view(), name="login"),
    path("accounts/logout/", sso_views.SignOut.as_view(), name="logout"),
    path("accounts/sso/", include("sso.urls")),
    path("backups/", include("backups.web.urls")),
    path("admin/", admin.site.urls),
    path("alerts/", include("alerts.urls")),
    path("metrics", alert_views.metrics_view, name="metrics"),
    path("healthz", alert_views.healthz, name="healthz"),
    path("evidence/", include("evidence.urls")),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("drills/", include("drills.urls")),
]
