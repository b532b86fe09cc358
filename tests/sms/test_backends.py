from __future__ import annotations

import io
import json
import multiprocessing
from datetime import datetime

import pytest
from django.core.exceptions import ImproperlyConfigured

from campuspass.sms.backends import SmsMessage, get_backend, locmem
from campuspass.sms.backends.console import SmsBackend as ConsoleBackend
from campuspass.sms.backends.file import SmsBackend as FileBackend
from campuspass.sms.backends.locmem import SmsBackend as LocmemBackend

MESSAGE = SmsMessage(
    phone="13812345678",
    text="【保卫处】您正在办理机动车通行证，验证码 123456，5分钟内有效。如非本人操作请忽略。",
    template="otp",
    params={"code": "123456", "minutes": "5"},
)


@pytest.mark.parametrize(
    ("name", "cls"), [("console", ConsoleBackend), ("file", FileBackend), ("locmem", LocmemBackend)]
)
def test_short_names_resolve(settings, name, cls):
    settings.SMS_BACKEND = name
    assert type(get_backend()) is cls


def test_a_dotted_path_resolves(settings):
    settings.SMS_BACKEND = "campuspass.sms.backends.locmem.SmsBackend"
    assert isinstance(get_backend(), LocmemBackend)


@pytest.mark.parametrize("name", ["smtp", "", "campuspass.sms.backends.nothing.SmsBackend"])
def test_an_unknown_backend_is_improperly_configured(settings, name):
    settings.SMS_BACKEND = name
    with pytest.raises(ImproperlyConfigured, match="SMS_BACKEND"):
        get_backend()


def test_locmem_keeps_messages_in_outbox():
    result = get_backend("locmem").send(MESSAGE)
    assert result.ok
    assert locmem.outbox == [MESSAGE]
    assert locmem.outbox[0].params["code"] == "123456"


def test_console_prints_number_and_text():
    stream = io.StringIO()
    result = ConsoleBackend(stream=stream).send(MESSAGE)
    assert result.ok
    out = stream.getvalue()
    assert "13812345678" in out and MESSAGE.text in out and out.endswith("\n")


def test_console_writes_to_stdout_by_default(capsys):
    get_backend("console").send(MESSAGE)
    assert "验证码 123456" in capsys.readouterr().out


def test_file_writes_one_json_object_per_line(settings, tmp_path):
    path = tmp_path / "nested" / "dir" / "sms.jsonl"
    settings.SMS_FILE_PATH = str(path)
    backend = get_backend("file")
    assert backend.send(MESSAGE).ok
    second = SmsMessage(
        phone="13900000000",
        text="【保卫处】第二条",
        template="refunded",
        params={"year": "2026", "plate": "京A12345", "amount": "150.00", "when": "2026年3月5日"},
    )
    assert backend.send(second).ok

    raw = path.read_bytes().decode("utf-8")
    assert "验证码" in raw  # utf-8, not \u escapes
    lines = raw.splitlines()
    assert len(lines) == 2 and raw.endswith("\n")
    first = json.loads(lines[0])
    assert first["phone"] == "13812345678"
    assert first["text"] == MESSAGE.text
    assert first["template"] == "otp"
    assert first["params"] == {"code": "123456", "minutes": "5"}
    assert datetime.fromisoformat(first["sent_at"]).tzinfo is not None
    assert json.loads(lines[1])["phone"] == "13900000000"


def _write_many(path: str, worker: int, count: int) -> None:
    backend = FileBackend(path=path)
    for i in range(count):
        backend.send(
            SmsMessage(
                phone="13812345678",
                text=f"{worker}-{i}-" + "长" * 3000,
                template="otp",
                params={"code": "123456", "minutes": "5"},
            )
        )


def test_file_lines_never_interleave_across_processes(tmp_path, settings):
    settings.SMS_TEST_BACKENDS_CHECK_VENDOR_RULES = False  # long lines on purpose (over 500 characters)
    path = tmp_path / "sms.jsonl"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_write_many, args=(str(path), w, 50)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(30)
        assert p.exitcode == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200
    keys = {tuple(json.loads(line)["text"].split("-")[:2]) for line in lines}
    assert keys == {(str(w), str(i)) for w in range(4) for i in range(50)}
