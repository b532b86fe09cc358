from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "campuspass.registry"
    label = "registry"
    verbose_name = "车证登记"
