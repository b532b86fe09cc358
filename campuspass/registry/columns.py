"""The registry file format (product.md section 8), shared by the import and the export so that an
export always re-imports unchanged."""

from .models import Pass, Staff

# In the order the export writes them.
HEADERS = [
    "工号",
    "姓名",
    "部门",
    "手机号",
    "人员状态",
    "车牌号",
    "车辆类型",
    "品牌型号",
    "车身颜色",
    "车牌颜色",
    "号牌种类",
    "通行证编号",
    "年度",
    "审核状态",
    "有效期起",
    "有效期止",
]
REQUIRED = [
    "工号",
    "姓名",
    "手机号",
    "人员状态",
    "车牌号",
    "通行证编号",
    "审核状态",
]  # and 年度 unless --year
# 车牌颜色 / 号牌种类 came later (decision 0026): files without them still import, a new vehicle then
# gets what its plate implies and a vehicle on file keeps what it has; so does an empty cell.
OPTIONAL = ["部门", "车辆类型", "品牌型号", "车身颜色", "车牌颜色", "号牌种类", "有效期起", "有效期止"]

STAFF_STATUS_BY_LABEL = {label: value for value, label in Staff.Status.choices}
REVIEW_STATUS_BY_LABEL = {label: value for value, label in Pass.ReviewStatus.choices}
