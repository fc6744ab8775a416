from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The project shell: settings, URLs, the overview page, the demo. It holds no models of its own any more
    (its migrations stay, since the audit and evidence tables were created by them)."""

    name = "dashboard"
    verbose_name = "Dashboard"
