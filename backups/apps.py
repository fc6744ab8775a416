from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from backups import receivers  # noqa: F401  (schedule sync on save/delete)
