from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "drills"
    verbose_name = "DR drills"

    def ready(self) -> None:
        from drills import evidence  # noqa: F401  (registers the evidence populations and summary section)
