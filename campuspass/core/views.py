from django.shortcuts import render


def home(request):
    """The landing page: what CampusPass is and links to what exists."""
    return render(request, "core/home.html")


def csrf_failure(request, reason=""):
    """A form that failed the CSRF check: say in Chinese what happened and what to do."""
    return render(request, "403_csrf.html", status=403)
