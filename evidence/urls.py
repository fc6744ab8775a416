from django.urls import path

from evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.index, name="index"),
    path("exports/", views.export_create, name="export_create"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("population/", views.population, name="population"),
    path("samples/", views.sample_create, name="sample_create"),
    path("samples/<int:pk>/", views.sample_detail, name="sample_detail"),
]
