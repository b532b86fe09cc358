import json

from django.core.management.base import BaseCommand

from campuspass.core.backup import manifest


class Command(BaseCommand):
    help = "写出备份清单（各表行数、已应用的迁移、私有存储中每个文件的大小与 SHA-256），供恢复后核对。"

    def add_arguments(self, parser):
        parser.add_argument("out", help="清单文件路径（JSON）")

    def handle(self, *args, out, **options):
        data = manifest()
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1)
        self.stdout.write(f"备份清单已写入 {out}：{len(data['tables'])} 张表，{len(data['files'])} 个文件")
