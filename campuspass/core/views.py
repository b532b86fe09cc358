from django.shortcuts import render


def home(request):
    """The landing page: what CampusPass is and links to what exists."""
    return render(request, "core/home.html")
