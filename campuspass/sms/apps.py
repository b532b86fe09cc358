from django.apps import AppConfig


class SmsConfig(AppConfig):
    name = "campuspass.sms"
    label = "sms"
    verbose_name = "短信"
