from django.conf import settings
from django.core.management.base import BaseCommand

from campuspass.demo.loader import load_demo


class Command(BaseCommand):
    help = (
        "准备演示数据：导入样例登记库、创建包含今天的续费活动和后台账号（可重复运行）。"
        "--empty-registry：不导入样例，从空登记库开始（再到后台“导入”上传自己的登记表）。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--empty-registry",
            action="store_true",
            help="不导入样例登记库，只创建续费活动和后台账号",
        )

    def handle(self, *args, **options):
        result = load_demo(empty_registry=options["empty_registry"])
        report = result.registry_report
        self.stdout.write(
            f"登记库：{result.registry_file}（新增 {report['imported']}，更新 {report['updated']}，"
            f"不变 {report['unchanged']}，拒绝 {len(report['rejected'])}）"
        )
        self.stdout.write(f"续费活动：{result.campaign}")
        site = settings.SITE_URL.rstrip("/")
        self.stdout.write(f"职工手机端：{site}/m/")
        self.stdout.write(f"后台账号（{site}/office/ ；密码保存在 var/demo-credentials.json，仅本机可读）：")
        for username, password in result.credentials.items():
            self.stdout.write(f"  用户名 {username}  密码 {password}")
