from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "campuspass.backoffice"
    label = "backoffice"
    verbose_name = "保卫处后台"
