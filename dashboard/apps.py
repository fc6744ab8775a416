from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The project shell: settings, URLs, the overview page, the demo. It holds no models of its own any more
    (its migrations stay, since the audit and evidence tables were created by them)."""

    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from dashboard import checks  # noqa: F401  (registers the lifeboat system checks)

        user_logged_in.connect(start_the_idle_clock, dispatch_uid="lifeboat-idle-clock")

        from django.db.models.signals import post_delete
        from django_otp.plugins.otp_totp.models import TOTPDevice

        post_delete.connect(device_removed, sender=TOTPDevice, dispatch_uid="lifeboat-2fa-removed")


# The receivers' modules (the middleware brings Django's auth views and forms, the devices django-otp's) are
# imported when the signal fires: a command that never signs anyone in does not load them.
def start_the_idle_clock(sender, request, user, **kwargs) -> None:
    from dashboard.middleware import start_the_idle_clock

    start_the_idle_clock(sender, request=request, user=user, **kwargs)


def device_removed(sender, instance, **kwargs) -> None:
    from dashboard.two_factor.devices import device_removed

    device_removed(sender, instance=instance, **kwargs)
