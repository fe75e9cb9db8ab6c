from django.urls import path

from suppression_admin.walead import views

app_name = "walead"

urlpatterns = [
    path("", views.blocked_leads, name="blocked_leads"),
    path("check/", views.blocked_check, name="check"),
    path("selection/", views.selection_update, name="selection_update"),
    path("selection/all-matching/", views.selection_add_matching, name="selection_add_matching"),
    path("selection/matching-count/", views.matching_count, name="matching_count"),
    path("selection/clear/", views.selection_clear, name="selection_clear"),
    path("confirm/", views.unblock_confirm, name="unblock_confirm"),
    path("confirm/exclude/", views.selection_exclude, name="selection_exclude"),
    path("unblock/", views.unblock_submit, name="unblock_submit"),
    path("operations/<int:pk>/", views.operation_result, name="operation_result"),
    path("retry/<int:pk>/", views.unblock_retry, name="retry"),
]
