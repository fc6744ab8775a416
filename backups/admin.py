from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from backups.models import (
    Artifact,
    BackupRun,
    Database,
    Restore,
    RetentionPolicy,
    Server,
    ServerLimit,
    Tier,
    Verification,
)


class ArtifactInline(admin.TabularInline):
    model = Artifact
    extra = 0
    fields = ("tier", "status", "location", "size_bytes", "sha256", "version_id", "legal_hold", "deleted_at")
    readonly_fields = ("tier", "status", "location", "size_bytes", "sha256", "version_id", "deleted_at")
    can_delete = False


@admin.register(Database)
class DatabaseAdmin(admin.ModelAdmin):
    list_display = ("name", "dsn", "rpo_hours", "schedule", "placed_schedule", "tags", "enabled", "password_env")
    list_filter = ("enabled", "host", "tiers")
    search_fields = ("name", "host", "dbname", "user", "tags")
    filter_horizontal = ("tiers",)
    fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        ("Connection", {"fields": ("host", "port", "dbname", "user", "libpq_options", "password_env", "passfile"),
                        "description": "The password is never stored here: name the environment variable "
                                       "that holds it, or a pgpass file."}),
        ("Protection", {"fields": ("rpo_hours", "schedule", "window_start", "window_end", "placed_schedule",
                                   "tiers", "tags")}),
        ("Identity (as the server reported it at the newest backup)", {
            "fields": ("system_identifier", "server_port_seen", "database_oid", "identity_seen_at"),
            "description": "How restores recognise this database behind any host name, even after its server "
                           "is lost."}),
    )
    readonly_fields = ("system_identifier", "server_port_seen", "database_oid", "identity_seen_at",
                       "placed_schedule")


@admin.register(ServerLimit)
class ServerLimitAdmin(admin.ModelAdmin):
    list_display = ("label", "system_identifier", "max_jobs", "databases")
    search_fields = ("label", "system_identifier")

    @admin.display(description="databases on it")
    def databases(self, limit: ServerLimit) -> int:
        return Database.objects.filter(system_identifier=limit.system_identifier).count()


class RetentionPolicyInline(admin.StackedInline):
    model = RetentionPolicy
    can_delete = False


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "position", "require_verified", "requires_encryption", "location")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "bucket", "path", "rds_instance")
    inlines = [RetentionPolicyInline]

    @admin.display(description="where")
    def location(self, tier: Tier) -> str:
        if tier.kind == Tier.Kind.S3:
            return f"s3://{tier.bucket}/{tier.prefix}"
        if tier.kind == Tier.Kind.RDS:
            return f"rds:{tier.rds_instance}"
        return str(tier.local_root)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ("tier", "keep_days", "keep_last", "monthly_months", "monthly_forever")


@admin.register(BackupRun)
class BackupRunAdmin(admin.ModelAdmin):
    list_display = ("id", "database", "status", "trigger", "started_at", "finished_at", "size")
    list_filter = ("status", "trigger", "database")
    search_fields = ("database__name", "sha256", "error")
    date_hierarchy = "created_at"
    list_select_related = ("database",)
    inlines = [ArtifactInline]
    readonly_fields = [f.name for f in BackupRun._meta.fields]

    @admin.display(description="size", ordering="size_bytes")
    def size(self, run: BackupRun) -> str:
        return filesizeformat(run.size_bytes) if run.size_bytes is not None else "-"

    def has_add_permission(self, request) -> bool:
        return False  # runs are made by the pipeline, never typed in


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "tier", "status", "location", "size_bytes", "legal_hold", "deleted_at")
    list_filter = ("tier", "status", "legal_hold")
    search_fields = ("location", "sha256", "run__database__name")
    list_select_related = ("run__database", "tier")
    readonly_fields = [f.name for f in Artifact._meta.fields if f.name != "legal_hold"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Verification)
class VerificationAdmin(admin.ModelAdmin):
    list_display = ("id", "artifact", "status", "started_at", "restore_seconds")
    list_filter = ("status",)
    list_select_related = ("artifact__run__database", "artifact__tier")
    readonly_fields = [f.name for f in Verification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Restore)
class RestoreAdmin(admin.ModelAdmin):
    list_display = ("id", "artifact", "mode", "status", "target_database", "requested_by", "started_at")
    list_filter = ("mode", "status")
    list_select_related = ("artifact__run__database", "artifact__tier", "requested_by")
    readonly_fields = [f.name for f in Restore._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ("name", "dsn", "discover", "exclude", "rpo_hours", "schedule", "isolated")
    list_filter = ("discover", "isolated")
    search_fields = ("name", "host")
    fieldsets = (
        (None, {"fields": ("name", "discover", "exclude")}),
        ("Connection", {"fields": ("host", "port", "user", "libpq_options", "password_env", "passfile"),
                        "description": "The password is never stored here: name the environment variable "
                                       "that holds it, or a pgpass file."}),
        ("Discovered databases", {"fields": ("rpo_hours", "schedule")}),
        ("Restores", {"fields": ("isolated",)}),
    )

