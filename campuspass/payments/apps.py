from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "campuspass.payments"
    label = "payments"
    verbose_name = "支付"
