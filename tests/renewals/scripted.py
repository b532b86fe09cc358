"""The in-memory provider, with answers scripted per call: `fake.fail("refund", "SYSTEM_ERROR", times=2)`
makes the next two refund requests answer SYSTEM_ERROR (the error the real provider raises for
that code), then the call works again. Every call, failed or not, is in `fake.calls`."""

from __future__ import annotations

from collections import defaultdict

from campuspass.payments.providers import PaymentProviderError

from .fakes import FakeProvider


class ScriptedProvider(FakeProvider):
    def __init__(self):
        super().__init__()
        self.script: dict[str, list[str]] = defaultdict(list)

    def fail(self, call: str, code: str, *, times: int = 1) -> None:
        self.script[call].extend([code] * times)

    def always(self, call: str, code: str) -> None:
        self.fail(call, code, times=10_000)

    def heal(self, call: str | None = None) -> None:
        for name in [call] if call else list(self.script):
            self.script[name].clear()

    def count(self, call: str) -> int:
        """How many times `call` reached the platform (answered or refused)."""
        names = {call, "create_jsapi"} if call == "jsapi" else {call}
        return sum(1 for entry in self.calls if entry[0] in names)

    def _answer(self, call: str, *record) -> None:
        if self.script[call]:
            code = self.script[call].pop(0)
            self.calls.append((call, *record, code))
            raise PaymentProviderError(f"微信支付答复 {code}", code=code, call=call)

    def create_jsapi(self, *, out_trade_no, **kwargs):
        self._answer("jsapi", out_trade_no)
        return super().create_jsapi(out_trade_no=out_trade_no, **kwargs)

    def query(self, out_trade_no):
        self._answer("query", out_trade_no)
        return super().query(out_trade_no)

    def close(self, out_trade_no):
        self._answer("close", out_trade_no)
        return super().close(out_trade_no)

    def refund(self, *, out_refund_no, **kwargs):
        self._answer("refund", out_refund_no)
        return super().refund(out_refund_no=out_refund_no, **kwargs)

    def query_refund(self, out_refund_no):
        self._answer("query_refund", out_refund_no)
        self.calls.append(("query_refund", out_refund_no))
        return super().query_refund(out_refund_no)

    def download_bill(self, date):
        self._answer("trade_bill", date)
        self._answer("download_bill", date)
        self.calls.append(("trade_bill", date))
        return super().download_bill(date)
