"""A WSGI application that answers which worker process served the request and how many objects that
process's garbage collector leaves alone (tests/core/test_serving.py runs gunicorn with it)."""

import gc
import json
import os


def app(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "frozen": gc.get_freeze_count()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
