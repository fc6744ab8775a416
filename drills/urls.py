from django.urls import path

from drills import actions, views

app_name = "drills"
urlpatterns = [
    path("", views.drill_list, name="list"),
    path("new/", views.schedule, name="schedule"),
    path("history/", views.history, name="history"),
    path("contacts/", views.contacts, name="contacts"),
    path("scenarios/", views.scenario_list, name="scenarios"),
    path("scenarios/<slug:slug>/", views.scenario, name="scenario"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/record.json", views.record, name="record"),
    path("<int:pk>/start/", actions.start, name="start"),
    path("<int:pk>/steps/<int:step_id>/tick/", actions.tick, name="tick"),
    path("<int:pk>/restore/", actions.run_restore, name="restore"),
    path("<int:pk>/drop-restored/", actions.drop_restored, name="drop_restored"),
    path("<int:pk>/complete/", actions.complete, name="complete"),
    path("<int:pk>/deviations/", actions.deviations, name="deviations"),
    path("<int:pk>/follow-ups/", actions.add_follow_up, name="add_follow_up"),
    path("<int:pk>/follow-ups/<int:follow_up_id>/status/", actions.follow_up_status, name="follow_up_status"),
    path("<int:pk>/notes/", actions.add_note, name="add_note"),
    path("<int:pk>/sign-off/", actions.sign_off, name="sign_off"),
]
