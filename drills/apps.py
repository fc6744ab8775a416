from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "drills"
    verbose_name = "DR drills"

    def ready(self) -> None:
        from backups.web import panels
        from drills import receivers  # noqa: F401  (drops a drill's restored database when it is completed)
        panels.register("plan_check", plan_check_panel)  # the plan check on the database page


def plan_check_panel(request, database):
    # drills.panels brings the plan check and the template loader: imported when the database page is drawn.
    from drills.panels import plan_check_panel

    return plan_check_panel(request, database)
