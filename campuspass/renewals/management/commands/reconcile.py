import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from campuspass.core.money import yuan
from campuspass.payments.bills import BillNotReady, ready_at
from campuspass.payments.providers import PaymentProviderError
from campuspass.renewals.services.reconcile import reconcile_day


class Command(BaseCommand):
    help = "与支付平台对账：下载某一天（默认昨天）的账单，列出存在性或金额不一致的支付和退款。"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="账单日期 YYYY-MM-DD（北京时间），默认昨天")
        parser.add_argument("--report", help="把差异写入这个 JSON 文件")

    def handle(self, *args, **options):
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"日期“{options['date']}”无效，请写成 2019-06-13 这样的格式。") from None
        else:
            day = timezone.localdate() - dt.timedelta(days=1)
        if day >= timezone.localdate():
            raise CommandError("只能对今天以前的账单对账（微信支付次日上午生成前一天的账单）。")
        try:
            run = reconcile_day(day=day)
        except BillNotReady:
            raise CommandError(
                f"微信支付尚未生成 {day} 的账单（通常在北京时间 {ready_at(day):%m月%d日 %H:%M} 之后可下载），请稍后重试。"
            ) from None
        except PaymentProviderError as exc:
            raise CommandError(f"账单下载失败：{exc.message}请稍后重试。") from None
        self.stdout.write(
            f"{day} 对账：本系统支付 {run.payments_ours} 笔（¥{yuan(run.paid_total_fen)}），账单支付 {run.payments_bill} 笔；"
            f"本系统退款 {run.refunds_ours} 笔（¥{yuan(run.refunded_total_fen)}），账单退款 {run.refunds_bill} 笔。"
        )
        if not run.differences:
            self.stdout.write("没有差异。")
        for item in run.differences:
            ours = "—" if item["ours_fen"] is None else f"¥{yuan(item['ours_fen'])}"
            bill = "—" if item["bill_fen"] is None else f"¥{yuan(item['bill_fen'])}"
            kind = "支付" if item["kind"] == "payment" else "退款"
            self.stdout.write(f"  {kind} {item['key']}：{item['problem']}（本系统 {ours}，账单 {bill}）")
        if options["report"]:
            Path(options["report"]).write_text(
                json.dumps(
                    {"day": day.isoformat(), "differences": run.differences}, ensure_ascii=False, indent=2
                ),
                encoding="utf-8",
            )
