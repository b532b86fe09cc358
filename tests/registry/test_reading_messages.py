import pytest

from campuspass.registry.imports import ImportFileError, import_passes

pytestmark = pytest.mark.django_db


def write(tmp_path, header: str):
    path = tmp_path / "r.csv"
    path.write_text(header + "\n10001,张三,13812345678,在职,京A12345,YXB1,审核通过\n", encoding="utf-8")
    return path


def test_missing_column_message_lists_what_is_required_for_this_import(tmp_path):
    path = write(tmp_path, "工号,姓名,手机号,人员状态,车牌号,审核状态")  # no 通行证编号, no 年度
    with pytest.raises(ImportFileError) as given:
        import_passes(path=path, year=2018, dry_run=True)
    assert "缺少必需的列：通行证编号。" in given.value.message
    assert "年度" not in given.value.message.split("可选列")[0]
    with pytest.raises(ImportFileError) as not_given:
        import_passes(path=path, dry_run=True)
    assert "通行证编号、年度" in not_given.value.message and "年度也可在导入时指定" in not_given.value.message
