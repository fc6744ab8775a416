from django.apps import AppConfig, apps


class EvidenceConfig(AppConfig):
    """SOC 2 / ISO 27001 evidence packages: populations of one period from every app below it."""

    name = "evidence"
    verbose_name = "Evidence"

    def ready(self) -> None:
        # The apps below contribute populations here, where evidence may import them (never the other way).
        if apps.is_installed("alerts"):
            from evidence import alert_populations  # noqa: F401  (registers on import)
        if apps.is_installed("drills"):
            from evidence import drill_populations  # noqa: F401  (registers on import)
        # The general reaper (backups) also reaps exports whose worker died.
        from backups.reaper_kinds import extra_kinds

        if reap_abandoned_exports not in extra_kinds:
            extra_kinds.append(reap_abandoned_exports)


def reap_abandoned_exports(now):
    # evidence.export brings minisign, cryptography and the bucket reader: imported when the reaper runs, not at
    # every start-up.
    from evidence.export import reap_abandoned

    return reap_abandoned(now)
