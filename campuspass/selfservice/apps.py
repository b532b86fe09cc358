from django.apps import AppConfig


class SelfserviceConfig(AppConfig):
    name = "campuspass.selfservice"
    label = "selfservice"
    verbose_name = "职工自助办理"
