from django.urls import path

from dashboard.two_factor import views

app_name = "two_factor"
urlpatterns = [
    path("", views.manage, name="manage"),
    path("sign-in/", views.sign_in, name="sign_in"),
]
