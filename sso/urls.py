from django.urls import path

from sso import views

urlpatterns = [
    path("sign-in/", views.SignIn.as_view(), name="oidc_authentication_init"),
    path("callback/", views.Callback.as_view(), name="oidc_authentication_callback"),
]
