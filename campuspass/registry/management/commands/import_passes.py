import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from campuspass.registry.imports import ImportFileError, import_passes

WARNINGS_SHOWN = 20


class Command(BaseCommand):
    help = "导入上年度通行证登记表（.xlsx 或 .csv）。先用 --dry-run 预览，确认无误后再正式导入。"

    def add_arguments(self, parser):
        parser.add_argument("file", help="登记表文件（.xlsx 或 .csv：UTF-8、UTF-8 BOM 或 GB18030）")
        parser.add_argument("--year", type=int, help="年度（文件没有“年度”列时必须指定）")
        parser.add_argument(
            "--dry-run", action="store_true", help="只预览：列出将新增、更新和拒绝的行，不写入任何数据"
        )
        parser.add_argument("--report", help="把结果写入这个 JSON 文件")
        parser.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"找不到文件：{path}。请检查路径后重试。")
        year = options["year"]
        if year is not None and not 2000 <= year <= 2100:
            raise CommandError(f"年度 {year} 无效，应为四位数字，如 2018。")

        bar = tqdm(
            total=None,
            unit="行",
            desc="读取并导入",
            disable=options["no_progress"] or None,  # None: only on a terminal
            file=self.stderr._out,
            dynamic_ncols=True,
        )

        def progress(done: int, total: int | None) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        try:
            report = import_passes(path=path, year=year, dry_run=options["dry_run"], progress=progress)
        except ImportFileError as exc:
            raise CommandError(f"未导入任何数据：{exc.message}") from None
        finally:
            bar.close()

        result = report.as_dict()
        if options["report"]:
            Path(options["report"]).write_text(
                json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
            )

        prefix = "【预览，未写入】" if report.dry_run else ""
        self.stdout.write(
            f"{prefix}共 {report.total_rows} 行：新增 {report.imported}，更新 {report.updated}，"
            f"不变 {report.unchanged}，拒绝 {len(report.rejected)}。"
        )
        for item in report.rejected:
            self.stdout.write(f"  第{item['row']}行 拒绝 — {item['reason']}")
        for item in report.warnings[:WARNINGS_SHOWN]:
            self.stdout.write(f"  第{item['row']}行 提示 — {item['reason']}")
        if len(report.warnings) > WARNINGS_SHOWN:
            more = len(report.warnings) - WARNINGS_SHOWN
            self.stdout.write(
                f"  …另有 {more} 条提示（同一工号前后信息不同，以较后的行为准），完整列表请用 --report 导出。"
            )
        if options["report"]:
            self.stdout.write(f"报告已写入 {options['report']}")
