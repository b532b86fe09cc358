from django.apps import AppConfig


class RenewalsConfig(AppConfig):
    name = "campuspass.renewals"
    label = "renewals"
    verbose_name = "年度续费"
