from django.core.management.base import BaseCommand

from campuspass.core.scheduler import load_jobs, run_due, run_forever


class Command(BaseCommand):
    help = "定时任务调度（无需 cron）：按 PERIODIC_TASKS 的间隔把任务放入队列，由 db_worker 执行。"

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="把所有定时任务各放入队列一次后退出")

    def handle(self, *args, **options):
        if options["once"]:
            for path in run_due(load_jobs(), 0.0):
                self.stdout.write(f"已放入队列：{path}")
            return
        run_forever()
