from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from campuspass.registry.exports import export_passes


class Command(BaseCommand):
    help = "导出通行证登记表（.xlsx，与导入格式相同，可直接重新导入）。"

    def add_arguments(self, parser):
        parser.add_argument("out", help="导出文件路径，如 导出.xlsx")
        parser.add_argument("--year", type=int, help="只导出这一年度（默认导出全部年度）")

    def handle(self, *args, **options):
        out = Path(options["out"])
        year = options["year"]
        if year is not None and not 2000 <= year <= 2100:
            raise CommandError(f"年度 {year} 无效，应为四位数字，如 2018。")
        if out.suffix.lower() != ".xlsx":
            raise CommandError(f"导出文件名应以 .xlsx 结尾（收到：{out.name}）。")
        if not out.parent.is_dir():
            raise CommandError(f"目录不存在：{out.parent}。请先创建目录或换一个路径。")
        try:
            rows = export_passes(year=year, path=out, reason="命令行导出")
        except OSError as exc:
            raise CommandError(
                f"无法写入文件 {out}：{exc.strerror or exc}。请检查路径和权限后重试。"
            ) from None
        scope = f"{year} 年度" if year else "全部年度"
        self.stdout.write(f"已导出{scope}通行证 {rows} 条到 {out}")
