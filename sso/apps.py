from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        checks.register(single_sign_on_settings, checks.Tags.security)


def single_sign_on_settings(app_configs=None, **kwargs):
    # sso.checks (and sso.config) are imported when the checks run: job commands run only Lifeboat's own.
    from sso.checks import single_sign_on_settings

    return single_sign_on_settings(app_configs, **kwargs)
