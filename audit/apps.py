from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit trail, at the bottom: every other app records into it."""

    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import config_audit, receivers  # noqa: F401  (sign-ins become audit events)

        config_audit.connect()  # configuration changes become audit events, before and after
