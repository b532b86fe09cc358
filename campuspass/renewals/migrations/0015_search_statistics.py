from django.db import migrations

from campuspass.core.trigram import search_statistics


class Migration(migrations.Migration):
    dependencies = [
        ("renewals", "0014_search_indexes"),
    ]

    operations = search_statistics(("renewals_renewalorder", "plate"))
