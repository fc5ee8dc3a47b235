from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


# ruleid: python-csrf-exempt
@csrf_exempt
def transfer(request):
    return JsonResponse({"ok": True})


# ok: python-csrf-exempt
def profile(request):
    return JsonResponse({"ok": True})


# ruleid: python-csrf-exempt
WTF_CSRF_ENABLED = False
