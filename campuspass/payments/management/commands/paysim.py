"""`manage.py paysim faults|list|replay|deliver`: drive the payment simulator by hand."""

from django.core.management.base import BaseCommand, CommandError

from campuspass.payments.models import SimNotification
from campuspass.payments.simulator import bank
from campuspass.payments.simulator.keys import KNOWN_FAULTS, get_faults, set_faults


class Command(BaseCommand):
    help = "模拟微信支付：故障注入、通知列表、重放通知、立即投递到期通知"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        faults = sub.add_parser("faults", help="显示或设置故障（覆盖 PAYMENT_SIMULATOR_FAULTS）")
        faults.add_argument("faults", nargs="*", help=f"可选：{', '.join(KNOWN_FAULTS)}；none 表示清空")
        faults.add_argument("--reset", action="store_true", help="删除设置，恢复使用 settings 中的值")
        listing = sub.add_parser("list", help="列出通知")
        listing.add_argument("--limit", type=int, default=30)
        replay = sub.add_parser("replay", help="重新发送一条通知")
        replay.add_argument("id", type=int)
        replay.add_argument("--raw", action="store_true", help="原样重放上次的请求头（不重新签名）")
        sub.add_parser("deliver", help="立即投递所有到期通知（并结算到期退款）")

    def handle(self, *args, **options):
        getattr(self, f"do_{options['action']}")(options)

    def do_faults(self, options):
        if options["reset"]:
            set_faults(None)
        elif options["faults"]:
            wanted = [] if options["faults"] == ["none"] else options["faults"]
            try:
                set_faults(wanted)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        current = sorted(get_faults())
        self.stdout.write("当前故障：" + (", ".join(current) if current else "无"))

    def do_list(self, options):
        rows = SimNotification.objects.order_by("-id")[: options["limit"]]
        for n in rows:
            state = "已确认" if n.acknowledged else ("已丢弃" if n.dropped else "待投递")
            self.stdout.write(
                f"#{n.pk} {n.event_type} {n.event_id} {state} 尝试{n.attempts}次 "
                f"状态码{n.last_status or '-'} 下次{n.next_attempt_at or '-'} → {n.url}"
            )

    def do_replay(self, options):
        try:
            status = bank.replay(options["id"], raw=options["raw"])
        except SimNotification.DoesNotExist as exc:
            raise CommandError(f"没有编号为 {options['id']} 的通知") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"已重放 #{options['id']}：HTTP {status if status is not None else '无法连接'}")

    def do_deliver(self, options):
        count = bank.deliver_due_notifications()
        self.stdout.write(f"已投递 {count} 条通知")
