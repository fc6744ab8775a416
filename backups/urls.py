from django.urls import path

from backups import views

app_name = "backups"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("artifacts/<int:artifact_id>/verify/", views.verify, name="verify"),
    path("artifacts/<int:artifact_id>/restore/", views.restore_new, name="restore_new"),
    path("databases/<int:database_id>/backup/", views.backup_now, name="backup_now"),
    path("databases/<str:name>/", views.database_detail, name="database_detail"),
]
