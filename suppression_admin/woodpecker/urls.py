from django.urls import path

from suppression_admin.woodpecker import views

app_name = "woodpecker"

urlpatterns = [
    path("", views.blacklist, name="blacklist"),
]
