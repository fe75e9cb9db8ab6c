from django.urls import path

from suppression_admin.woodpecker import removal_views, views

app_name = "woodpecker"

urlpatterns = [
    path("", views.blacklist, name="blacklist"),
    path("check/", views.blacklist_check, name="check"),
    path("selection/", views.blacklist_selection, name="blacklist_selection"),
    path("selection/all-matching/", views.blacklist_select_matching, name="blacklist_select_all"),
    path("selection/clear/", views.blacklist_selection_clear, name="blacklist_selection_clear"),
    path("remove/", removal_views.removal_new, name="removal_new"),
    path("remove/selected/", removal_views.removal_from_selection, name="removal_selected"),
    path("remove/column/", removal_views.removal_column, name="removal_column"),
    path("remove/reading/<uuid:pk>/", removal_views.removal_reading, name="removal_reading"),
    path("remove/<uuid:pk>/", removal_views.removal_preview, name="removal_preview"),
    path("remove/<uuid:pk>/addresses/", removal_views.removal_addresses, name="removal_addresses"),
    path("remove/<uuid:pk>/discard/", removal_views.removal_discard, name="removal_discard"),
    path("remove/<uuid:pk>/unused.csv", removal_views.removal_unused_csv, name="removal_unused"),
    path("retry/<int:pk>/", removal_views.removal_retry, name="retry"),
]
