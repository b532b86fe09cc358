import json

from django.core.management.base import BaseCommand, CommandError

from campuspass.core.backup import check_restore


class Command(BaseCommand):
    help = "核对恢复结果：数据库（迁移、各表行数）与私有存储（每个文件及其 SHA-256）是否与备份清单一致。"

    def add_arguments(self, parser):
        parser.add_argument("manifest", help="备份时写出的清单（manifest.json）")

    def handle(self, *args, manifest, **options):
        with open(manifest, encoding="utf-8") as handle:
            expected = json.load(handle)
        problems = check_restore(expected)
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"恢复不完整：{len(problems)} 处与备份不一致（见上）。")
        rows = sum(expected["tables"].values())
        self.stdout.write(
            f"恢复核对通过：{len(expected['tables'])} 张表共 {rows} 行、{len(expected['files'])} 个文件全部恢复。"
        )
