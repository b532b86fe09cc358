"""Print, per vendor, the exact SMS templates and variables the office must register."""

from django.conf import settings
from django.core.management.base import BaseCommand

from campuspass.sms.rules import registration, vendor_rules

TYPE_NAMES = {
    "code": "验证码（仅数字）",
    "number": "其他号码（字母、数字）",
    "plate": "车牌号",
    "date": "日期",
    "amount": "金额（数字与小数点）",
    "text": "其他（自由文本，超长截断）",
}


class Command(BaseCommand):
    help = (
        "列出需在短信服务商处申请的签名、模板正文和变量（腾讯云、阿里云），以及 SMS_TEMPLATE_CODES 的写法。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "vendor", nargs="?", choices=sorted(vendor_rules()), help="只列出这一家（默认两家）"
        )

    def handle(self, *args, **options):
        vendors = [options["vendor"]] if options["vendor"] else sorted(vendor_rules())
        for vendor in vendors:
            rules = vendor_rules()[vendor]
            self.stdout.write(f"=== {rules.name} ===")
            self.stdout.write(f"短信签名：{settings.SMS_SIGN_NAME}")
            for item in registration(vendor):
                self.stdout.write(f"\n[{item['name']}] {item['label']}（模板类型：{item['kind']}）")
                self.stdout.write(f"  模板正文：{item['text']}")
                for var in item["variables"]:
                    self.stdout.write(
                        f"  变量 {var['placeholder']}：{var['name']}，{TYPE_NAMES[var['type']]}，不超过 {var['max']} 字"
                    )
            example = ", ".join(f'"{item["name"]}": "…"' for item in registration(vendor))
            self.stdout.write(f"\n审核通过后设置 SMS_BACKEND={vendor}，SMS_TEMPLATE_CODES={{{example}}}\n")
