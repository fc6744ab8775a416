from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from alerts import delivery
from alerts.models import ALERT_KINDS, Alert, AlertEvent, Channel, Kind, Notification
from core.admin import ReadOnlyAdmin
from core.roles import SEND_TEST_ALERT


class ChannelForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(
        choices=[(k.value, k.label) for k in ALERT_KINDS], required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None selected means every kind.",
    )

    class Meta:
        model = Channel
        fields = ("name", "enabled", "url", "url_env", "kinds", "min_severity", "notify_success")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("name", "enabled", "service", "min_severity", "kinds_display", "notify_success")
    list_filter = ("enabled", "min_severity", "notify_success")
    search_fields = ("name",)
    actions = ["send_test_notification"]

    @admin.display(description="service")
    def service(self, channel: Channel) -> str:
        # The scheme only: the rest of an apprise URL is a secret.
        return f"${channel.url_env}" if channel.url_env else channel.url.split("://", 1)[0] + "://…"

    @admin.display(description="kinds")
    def kinds_display(self, channel: Channel) -> str:
        return ", ".join(Kind(k).label for k in channel.kinds) or "all"

    def has_send_test_notification_permission(self, request) -> bool:
        return request.user.has_perm(SEND_TEST_ALERT)

    @admin.action(description="Send a test notification", permissions=["send_test_notification"])
    def send_test_notification(self, request, queryset) -> None:
        for channel in queryset:
            n = delivery.send_test(channel, request.user)
            n.refresh_from_db()
            level = messages.ERROR if n.last_error else messages.INFO
            self.message_user(request, f"{channel.name}: {n.get_status_display().lower()} {n.last_error}", level)

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            # Someone who may only look sees which service it is, never the secret URL itself.
            fields = ["service" if f == "url" else f for f in fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            readonly.append("service")
        return readonly

    # Adding, changing and deleting a channel is audited with before and after by audit.config_audit.


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ("change", "created_at", "message")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "severity", "opened_at", "resolved_at")
    list_filter = ("kind", "severity")
    search_fields = ("title", "message", "key")
    inlines = [AlertEventInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("title", "channel", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "channel", "kind")
    search_fields = ("title", "last_error")
