from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "campuspass.core"
    label = "core"
    verbose_name = "系统"
