"""A URLconf holding only the sandbox, mounted where the project mounts it.

The sandbox tests use it so they do not depend on the rest of the site's URLs.
"""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("suppression_admin.sandbox.urls"))]
