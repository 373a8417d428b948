from django.urls import path

from touchflow.messaging import views

urlpatterns = [
    path("hooks/<slug:provider>/<str:key>/", views.hook, name="webhook"),
]
