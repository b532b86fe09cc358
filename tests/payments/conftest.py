import json
import os

import pytest
from django.core.cache import cache

from campuspass.payments.crypto import generate_private_key, private_key_pem, random_string
from campuspass.payments.providers import reset_provider
from campuspass.payments.simulator import keys as sim_keys

from . import handlers


@pytest.fixture(scope="session")
def simulator_keys_json():
    # One RSA key for the whole run: generating 2048-bit keys per test is slow.
    return json.dumps(
        {
            "serial": "PUB_KEY_ID_SIMTEST" + random_string(8).upper(),
            "apiv3_key": random_string(32),
            "private_key": private_key_pem(generate_private_key()),
        }
    )


@pytest.fixture(autouse=True)
def payment_settings(settings, tmp_path, simulator_keys_json):
    directory = tmp_path / "paysim"
    directory.mkdir(mode=0o700)
    keys_file = directory / sim_keys.KEYS_FILE
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(simulator_keys_json)
    settings.ROOT_URLCONF = "tests.payments.urls"
    settings.PAYMENT_PROVIDER = "simulator"
    settings.PAYMENT_SIMULATOR_DIR = directory
    settings.PAYMENT_SIMULATOR_FAULTS = []
    settings.PAYMENT_SIMULATOR_TIME_SCALE = 1
    settings.SITE_URL = "http://testserver"
    settings.PAYMENT_NOTIFICATION_HANDLER = "tests.payments.handlers.record"
    settings.REFUND_NOTIFICATION_HANDLER = "tests.payments.handlers.record"
    handlers.CALLS.clear()
    handlers.FAIL_NEXT.clear()
    cache.clear()  # the per-address refusal counters
    reset_provider()
    yield directory
    reset_provider()
