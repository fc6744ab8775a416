from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from alerts import views as alert_views
from audit import views as audit_views
from dashboard import views
from dashboard.two_factor.views import SignInView
from sso import views as sso_views

admin.autodiscover()  # every app's admin module: not at start-up, which commands share (core.admin_config.AdminConfig)

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico whatever the page says; answer with the icon instead of a 404 each time.
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", sso_views.SignOut.as_view(), name="logout"),
    path("accounts/sso/", include("sso.urls")),
    path("account/two-factor/", include("dashboard.two_factor.urls")),
    # One way in: the admin's own sign-in form would skip the second factor.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin_sign_in"),
    path("backups/", include("backups.web.urls")),
    path("admin/", admin.site.urls),
    path("alerts/", include("alerts.urls")),
    path("metrics", alert_views.metrics_view, name="metrics"),
    path("healthz", alert_views.healthz, name="healthz"),
    path("evidence/", include("evidence.urls")),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("drills/", include("drills.urls")),
    # The JSON API (/api/v1/) and the token page (/account/tokens/): the api app sits above this shell.
    path("", include("api.urls")),
]
