from django.urls import path

from backups.web import tiers as tier_views
from backups.web import views

app_name = "backups"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("queue/", views.queue_view, name="queue"),
    path("artifacts/<int:artifact_id>/verify/", views.verify, name="verify"),
    path("artifacts/<int:artifact_id>/restore/", views.restore_new, name="restore_new"),
    path("artifacts/<int:artifact_id>/recover-rows/", views.recover_rows, name="recover_rows"),
    path("artifacts/<int:artifact_id>/replace/", views.replace_production, name="replace_production"),
    path("artifacts/<int:artifact_id>/restore-archived/", views.restore_archived, name="restore_archived"),
    path("databases/<int:database_id>/backup/", views.backup_now, name="backup_now"),
    path("databases/<str:name>/", views.database_detail, name="database_detail"),
    path("tiers/", tier_views.tier_list, name="tier_list"),
    path("tiers/<int:pk>/", tier_views.tier_detail, name="tier_detail"),
    path("tiers/<int:pk>/bucket-policy/", tier_views.apply_bucket_policy, name="apply_bucket_policy"),
    path("tiers/<int:pk>/drift/", tier_views.check_drift, name="check_drift"),
    path("tiers/<int:pk>/retention/", tier_views.apply_retention, name="apply_retention"),
    path("tiers/<int:pk>/rds-snapshot/", tier_views.rds_snapshot, name="rds_snapshot"),
]
