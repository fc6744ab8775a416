from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts and monitoring"

    def ready(self) -> None:
        from alerts import receivers  # noqa: F401  (rules evaluated after every job)
