from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # label: vulnerable CWE-352
def transfer(request):
    return JsonResponse({"ok": True})


def settings_view(request):  # label: safe CWE-352
    return JsonResponse({"ok": True})
