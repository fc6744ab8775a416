from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "drills"
    verbose_name = "DR drills"

    def ready(self) -> None:
        from drills import recovery  # noqa: F401  (drops a drill's restored database when it is completed)
