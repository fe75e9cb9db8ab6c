from django.urls import path

from suppression_admin.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.jobs_mine, name="mine"),
    path("all/", views.jobs_all, name="all"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("<int:pk>/result.csv", views.job_result_csv, name="result"),
]
