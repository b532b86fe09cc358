from django.db import migrations

from campuspass.core.trigram import search_statistics


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_search_indexes"),
    ]

    operations = search_statistics(
        ("registry_vehicle", "plate"),
        ("registry_staff", "name"),
        ("staff_no_upper_trgm", "1"),
        ("registry_staff", "staff_no"),
    )
