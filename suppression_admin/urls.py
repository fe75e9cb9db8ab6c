from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from suppression_admin import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("walead/", include("suppression_admin.walead.urls")),
    path("woodpecker/", include("suppression_admin.woodpecker.urls")),
    path("jobs/", include("suppression_admin.jobs.urls")),
    path("audit/", include("suppression_admin.audit.urls")),
    path("sandbox/", include("suppression_admin.sandbox.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "suppression_admin.views.forbidden"
