from django.urls import path

from suppression_admin.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.operations, name="operations"),
    path("<int:pk>/", views.operation_detail, name="operation_detail"),
    path("export.csv", views.export_csv, name="export_csv"),
    path("export.jsonl", views.export_jsonl, name="export_jsonl"),
    path("access/", views.access_log, name="access_log"),
    path("people/<path:identifier>/", views.person, name="person"),
]
