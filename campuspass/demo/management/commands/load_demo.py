from django.core.management.base import BaseCommand

from campuspass.demo.loader import load_demo


class Command(BaseCommand):
    help = "准备演示数据：导入样例登记库、创建包含今天的续费活动和后台账号（可重复运行）。"

    def handle(self, *args, **options):
        result = load_demo()
        report = result.registry_report
        self.stdout.write(
            f"登记库：{result.registry_file}（新增 {report['imported']}，更新 {report['updated']}，"
            f"不变 {report['unchanged']}，拒绝 {len(report['rejected'])}）"
        )
        self.stdout.write(f"续费活动：{result.campaign}")
        self.stdout.write(
            "后台账号（http://127.0.0.1:8000/office/ ；密码保存在 var/demo-credentials.json，仅本机可读）："
        )
        for username, password in result.credentials.items():
            self.stdout.write(f"  用户名 {username}  密码 {password}")
