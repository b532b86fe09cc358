"""道闸同步 (namespace `backoffice`, set in urls.py)."""

from django.urls import path

from . import views_gates

urlpatterns = [
    path("gates/", views_gates.overview, name="gates"),
    path("gates/<int:pk>/retry/", views_gates.retry, name="gates-retry"),
    path("gates/<int:pk>/compare/", views_gates.compare, name="gates-compare"),
    path("gates/control/", views_gates.control, name="gatecontrol"),
    path("gates/control/scope/", views_gates.scope, name="gatecontrol-scope"),
    path("gates/devices/", views_gates.devices, name="gatedevices"),
    path("gates/devices/groups/", views_gates.group_new, name="gatedevices-group"),
    path("gates/devices/<int:pk>/key/", views_gates.issue_key, name="gatedevices-key"),
    path("gates/devices/<int:pk>/revoke/", views_gates.revoke_key, name="gatedevices-revoke"),
]
