from django.urls import path, re_path

from api import views
from api.problems import not_found_view
from api.v1 import api

urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/v1/(?P<path>.*)$", not_found_view),
    path("account/tokens/", views.token_list, name="api_tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
]
