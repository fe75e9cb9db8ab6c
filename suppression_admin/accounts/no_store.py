"""Pages and downloads for a signed-in person are never kept by a browser or a proxy.

They hold email addresses, LinkedIn identifiers and the audit: a shared computer's cache,
its back button after sign-out, or a proxy must not keep them.
"""

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
            patch_cache_control(response, private=True)
        return response
