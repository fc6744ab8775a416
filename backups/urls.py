from django.urls import path

from backups import views

app_name = "backups"
urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
]
