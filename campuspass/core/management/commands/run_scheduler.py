from django.core.management.base import BaseCommand
from django.utils import timezone

from campuspass.core.scheduler import load_jobs, run_due, run_forever


class Command(BaseCommand):
    help = (
        "定时任务调度：按 PERIODIC_TASKS 的 cron 表达式（北京时间）把任务放入队列，由 worker 执行；"
        "停机期间错过的任务启动时补跑一次；多个调度进程同时运行也只放入一次。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="只放入此刻已到点（含错过）的任务后退出，可由 cron 每分钟调用",
        )
        parser.add_argument("--list", action="store_true", help="列出每个定时任务及其下次运行时间")

    def handle(self, *args, **options):
        jobs = load_jobs()
        if options["list"]:
            now = timezone.localtime()
            for job in jobs:
                nxt = job.trigger().get_next_fire_time(None, now) if job.is_cron else None
                when = f"下次 {nxt:%Y-%m-%d %H:%M}" if nxt else ""
                self.stdout.write(f"{job.path}  {job.describe()}  {when}")
            return
        if options["once"]:
            for path in run_due(jobs):
                self.stdout.write(f"已放入队列：{path}")
            return
        run_forever()
