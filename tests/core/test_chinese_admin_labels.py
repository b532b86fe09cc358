"""Issue 14 item 12: "Task Results" in English in the admin."""

from django.utils import translation
from django_tasks_db.models import DBTaskResult


def test_the_task_queue_admin_is_in_chinese():
    with translation.override("zh-hans"):
        assert str(DBTaskResult._meta.verbose_name_plural) == "任务结果"
        assert str(DBTaskResult._meta.get_field("finished_at").verbose_name) == "完成时间"
