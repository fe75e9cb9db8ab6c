# Placeholder: being written (audit review).
from django.http import HttpResponse


def operations(request):
    return HttpResponse("")


def operation_detail(request, pk):
    return HttpResponse("")


def export_csv(request):
    return HttpResponse("")
