from django.contrib import admin

from core.admin import ReadOnlyAdmin
from sso.models import ExternalIdentity


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "issuer", "last_roles", "last_sign_in")
    search_fields = ("user__username", "subject")
