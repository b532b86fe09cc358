"""The catalogue of audit actions: every code `log_action` is called with, its Chinese label and what
its `data` holds. The audit screen, its filter and the exports read labels from here; emitters use
the codes. `tests/core/test_audit_catalogue.py` checks that every code written in the source is in
the catalogue and every entry is written somewhere.

Codes are `app.subject.verb`. Moves of a state axis (`renewals.transitions.move`) also carry
`{"axis", "from", "to"}` in their data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# How a data value is shown (campuspass.core.audit.describe): text as it is, money in yuan,
# booleans 是/否, times in Beijing time, phone numbers masked, nested {field: [old, new]} per line.
TEXT, MONEY, BOOL, TIME, PHONE, FIELDS = "text", "money", "bool", "time", "phone", "fields"


@dataclass(frozen=True)
class Key:
    """A data key: its Chinese label, how its value is shown and what names its values — model
    fields' choices as "app_label.Model.field" (one or a tuple; read when shown, so the core imports
    no app) or a {value: label} map for codes no model holds."""

    label: str
    kind: str = TEXT
    values: str | tuple[str, ...] | Mapping[str, str] = ""


@dataclass(frozen=True)
class AuditAction:
    code: str
    label: str
    data: str  # what the entry's data holds, for people reading the log or an export
    # Keys that mean something else in this action than in DATA_KEYS (e.g. "kind" of an export).
    keys: Mapping[str, Key] = field(default_factory=dict)


MOVE = "axis/from/to（状态变化）"

# A WeChat Pay call that needs a person (payments.outcomes): which call, and the number it was about.
ALERT_KEYS: Mapping[str, Key] = {
    "call": Key(
        "微信支付接口",
        values={
            "jsapi": "JSAPI下单",
            "query": "查询订单",
            "close": "关闭订单",
            "refund": "申请退款",
            "query_refund": "查询单笔退款",
            "trade_bill": "申请交易账单",
            "download_bill": "下载账单",
        },
    ),
    "key": Key("单号或账单日"),
}

# The state axes of `renewals.transitions.move`: {"axis", "from", "to"} is shown as one line.
AXES: dict[str, Key] = {
    "order": Key("状态", values="renewals.RenewalOrder.status"),
    "refund": Key("退款状态", values="renewals.Refund.status"),
    "validity": Key("有效状态", values="renewals.RenewalOrder.validity"),
    "fulfilment": Key("领取/送证状态", values="renewals.RenewalOrder.fulfilment_status"),
}

# Every data key an emitter writes, one line each (also the keys inside nested dicts such as an
# import's moved passes). Field names inside "changes" / "deleted" are labelled here too, or by the
# entry's model field (verbose name, choices) when this table does not name them.
# tests/core/test_audit_catalogue.py and the suite-wide check in tests/conftest.py fail on a key
# without a label.
DATA_KEYS: dict[str, Key] = {
    "address": Key("送证地址"),
    "amount_fen": Key("金额", MONEY),
    "attempts": Key("发送次数"),
    "before": Key("修改前", FIELDS),
    "budget": Key("每日上限（条）"),
    "campaign": Key("年度"),
    "changes": Key("修改", FIELDS),
    "channel": Key(
        "渠道", values={"online": "线上", "onsite": "现场办理", "counter": "窗口领取", "delivery": "送证上门"}
    ),
    "code": Key("编码"),
    "consent_version": Key("知情同意书版本"),
    "courier": Key("配送员"),
    "created": Key("新建", values={"staff": "职工", "vehicle": "车辆", "pass": "通行证"}),
    "date": Key("日期"),
    "day": Key("账单日期"),
    "deleted": Key("删除前", FIELDS),
    "delivery_address": Key("送证地址"),
    "devices": Key("动态口令设备"),
    "differences": Key("差异数"),
    "dry_run": Key("仅预览", BOOL),
    "early": Key("提前发放", BOOL),
    "entries": Key("条目数"),
    "event_id": Key("通知编号"),
    "expected_fen": Key("应付金额", MONEY),
    "fields": Key("不符字段", values={"appid": "公众号 AppID", "mchid": "商户号", "amount": "金额"}),
    "file": Key("文件"),
    "filters": Key("筛选条件", FIELDS),
    "from_name": Key("原持证人姓名"),
    "from_plate": Key("原车牌号"),
    "from_staff_no": Key("原持证人工号"),
    "fulfilment": Key("领取方式", values="renewals.RenewalOrder.fulfilment"),
    "full_name": Key("姓名"),
    "group": Key("停车场/道闸组"),
    "groups": Key("通行范围"),
    "how": Key(
        "方式",
        values={
            "bank_transfer": "银行转账",
            "cash": "现金",
            "merchant_platform": "商户平台异常退款处理",
            "counter": "窗口",
        },
    ),
    "id_checked": Key("已核验工作证", BOOL),
    "imported": Key("新增"),
    "ip": Key("IP 地址"),
    "is_active": Key("启用", BOOL),
    "is_workday": Key("上班日", BOOL),
    "journal": Key("撤销日志"),
    "kept_in_use": Key("已被使用而保留"),
    "key_id": Key("密钥编号"),
    "kind": Key("用途", values="renewals.Payment.kind"),
    "method": Key("支付方式", values="renewals.Payment.method"),
    "minutes": Key("锁定（分钟）"),
    "mismatches": Key("不符项"),
    "mobile": Key("手机号", PHONE),
    "moved": Key("换人或换车的通行证"),
    "moved_total": Key("换人或换车的通行证数"),
    "moves_confirmed": Key("已确认换人或换车", BOOL),
    "name": Key("名称"),
    "new_out_trade_no": Key("新商户订单号"),
    "new_pass": Key("新证编号"),
    "number": Key("编号"),
    "old_out_trade_no": Key("原商户订单号"),
    "old_pass_collected": Key("已收回旧证", BOOL),
    "operations": Key("撤销操作数"),
    "order": Key("订单"),
    "out_refund_no": Key("退款单号"),
    "out_trade_no": Key("商户订单号"),
    "paid_fen": Key("实付金额", MONEY),
    "payment": Key("收款记录"),
    "photo": Key("照片编号"),
    "photo_replaced": Key("更换了证件照片", BOOL),
    "pickup_from": Key("可领取日期"),
    "platform_status": Key(
        "平台状态",
        values={
            "SUCCESS": "退款成功",
            "PROCESSING": "退款处理中",
            "CLOSED": "退款关闭",
            "ABNORMAL": "退款异常",
        },
    ),
    "previous": Key("原配送员"),
    "price_fen": Key("价格", MONEY),
    "reason": Key("原因"),
    "reference": Key("凭证号"),
    "rejected": Key("未导入行数"),
    "related": Key("关联对象"),
    "replaced": Key("替换的密钥"),
    "reported_fen": Key("平台金额", MONEY),
    "roles": Key("角色"),
    "row": Key("行"),
    "rows": Key("行数"),
    "scope": Key("锁定范围", values={"username": "账号", "ip": "IP 地址"}),
    "sent": Key("今日已发送（条）"),
    "sha256": Key("SHA-256 校验值"),
    "size": Key("大小（字节）"),
    "source": Key(
        "来源",
        values={
            "notification": "支付平台通知",
            "query": "查询支付平台",
            "query_before_close": "关闭前查询支付平台",
            "query_before_restart": "更换单号前查询支付平台",
            "refund_request": "提交退款时平台答复",
            "counter": "窗口",
            "onsite": "现场办理",
            "migrated": "旧数据迁移",
        },
    ),
    "state": Key("状态", values="renewals.Payment.state"),
    "suspension": Key("暂停记录编号"),
    "taken_over_from": Key("接手自"),
    "template": Key("短信类型", values="sms.OutboxMessage.template"),
    "text": Key("内容"),
    "to_name": Key("新持证人姓名"),
    "to_plate": Key("新车牌号"),
    "to_staff_no": Key("新持证人工号"),
    "total_rows": Key("总行数"),
    "transaction_id": Key("微信支付订单号"),
    "unchanged": Key("未变化"),
    "until": Key("有效至", TIME),
    "updated": Key("更新"),
    "username": Key("用户名"),
    "validity": Key("有效状态", values="renewals.RenewalOrder.validity"),
    "values_from_row": Key("取值所在行"),
    "version": Key("版本"),
    "viewer": Key("查看人"),
    "where": Key(
        "位置",
        values={
            "counter": "窗口领取",
            "delivery": "送证上门",
            "onsite.staff": "现场办理",
            "admin.staff.change": "后台职工信息",
            "selfservice.confirm": "职工确认订单页",
            "selfservice.order": "职工订单详情",
            "backoffice.review": "审核页",
        },
    ),
    "year": Key("年度"),
}

CATALOGUE: tuple[AuditAction, ...] = (
    # --- renewal orders ---
    AuditAction(
        "renewals.order.created", "提交订单", "amount_fen, out_trade_no, fulfilment, channel（现场）"
    ),
    AuditAction("renewals.order.resubmitted", "再次提交（更新照片或领取方式）", "changes, photo_replaced"),
    AuditAction("renewals.order.consent_given", "同意知情同意书", f"{MOVE}; consent_version, sha256"),
    AuditAction("renewals.order.paid", "已支付", f"{MOVE}; payment, method, reference, amount_fen, source"),
    AuditAction(
        "renewals.order.payment_mismatch", "支付信息不符（未入账）", "expected_fen, paid_fen / fields, source"
    ),
    AuditAction("renewals.order.payment_not_applied", "支付未入账", "event_id, transaction_id"),
    AuditAction(
        "renewals.order.payment_restarted",
        "更换支付单号（支付条件须改变）",
        "old_out_trade_no, new_out_trade_no; 原因在 reason",
    ),
    AuditAction("renewals.order.closed", "订单关闭", f"{MOVE}"),
    AuditAction("renewals.order.approved", "审核通过", f"{MOVE}; new_pass, validity, pickup_from"),
    AuditAction("renewals.order.rejected", "审核不通过", f"{MOVE}; 原因在 reason"),
    AuditAction("renewals.order.refunding", "退款中", f"{MOVE}; out_refund_no, amount_fen"),
    AuditAction("renewals.order.refunded", "已退款", f"{MOVE}; out_refund_no, platform_status / how, source"),
    AuditAction(
        "renewals.order.refund_failed", "退款异常", f"{MOVE}; out_refund_no, platform_status, source"
    ),
    AuditAction("renewals.order.validity_changed", "有效状态变化", f"{MOVE}（validity 轴）; new_pass"),
    AuditAction(
        "renewals.order.handover_pending",
        "待领取/待送证（审核通过后）",
        f"{MOVE}（fulfilment 轴）; fulfilment, pickup_from",
    ),
    AuditAction("renewals.order.claimed", "领取审核", "until, taken_over_from"),
    AuditAction("renewals.order.released", "释放审核", "until"),
    AuditAction(
        "renewals.order.handed_out",
        "已发放",
        f"{MOVE}（fulfilment 轴：已领取/已送达）; channel, new_pass, old_pass_collected, id_checked, early",
    ),
    AuditAction(
        "renewals.order.courier_assigned",
        "分派配送",
        f"courier, previous; 首次分派时 {MOVE}（fulfilment 轴）",
    ),
    AuditAction("renewals.order.courier_claimed", "认领送证", f"{MOVE}（fulfilment 轴）; courier"),
    AuditAction(
        "renewals.order.delivery_failed",
        "未送达，退回窗口",
        f"{MOVE}（fulfilment 轴）; courier, address, pickup_from; 原因在 reason",
    ),
    AuditAction(
        "renewals.order.fulfilment_changed",
        "修改领取方式",
        f"changes; 审核通过后 {MOVE}（fulfilment 轴）, courier",
    ),
    # --- the ledger ---
    AuditAction(
        "renewals.payment.recorded", "收款入账", "method, reference, amount_fen, state, kind, order, source"
    ),
    AuditAction(
        "renewals.payment.unclaimed",
        "收款待退回（无可用订单）",
        "method, reference, amount_fen, state, kind, order",
    ),
    # --- refunds ---
    AuditAction(
        "renewals.refund.requested", "申请退款", f"{MOVE}; out_refund_no, amount_fen, payment, method"
    ),
    AuditAction(
        "renewals.refund.paid_at_counter", "窗口退款", f"{MOVE}; out_refund_no, amount_fen, payment, method"
    ),
    AuditAction("renewals.refund.processing", "退款处理中", f"{MOVE}; out_refund_no"),
    AuditAction("renewals.refund.succeeded", "退款成功", f"{MOVE}; out_refund_no, platform_status, source"),
    AuditAction("renewals.refund.failed", "退款被拒绝", f"{MOVE}; out_refund_no, platform_status, source"),
    AuditAction("renewals.refund.closed", "退款关闭", f"{MOVE}; out_refund_no, platform_status, source"),
    AuditAction("renewals.refund.abnormal", "退款异常", f"{MOVE}; out_refund_no, platform_status, source"),
    AuditAction("renewals.refund.retried", "重试退款（原单号）", f"{MOVE}; out_refund_no"),
    AuditAction("renewals.refund.paid_out", "线下退款完成", f"{MOVE}; how, reference, out_refund_no"),
    AuditAction(
        "renewals.refund.amount_mismatch", "退款金额不符", "out_refund_no, expected_fen, reported_fen"
    ),
    AuditAction("renewals.refund.notification_mismatch", "退款通知不符", "event_id, mismatches"),
    AuditAction("renewals.reconciliation.completed", "对账完成", "day, differences"),
    # --- campaign settings ---
    AuditAction("renewals.campaign.created", "新建续费活动", "changes"),
    AuditAction("renewals.campaign.updated", "修改活动设置", "changes"),
    AuditAction("renewals.consent.version_added", "新增知情同意书版本", "version, sha256"),
    AuditAction("renewals.reject_reason.created", "新增不通过原因", "text"),
    AuditAction("renewals.reject_reason.updated", "修改不通过原因", "changes"),
    AuditAction("renewals.reject_reason.activated", "启用不通过原因", "text"),
    AuditAction("renewals.reject_reason.deactivated", "停用不通过原因", "text"),
    AuditAction(
        "renewals.reject_reason.reordered", "调整原因顺序", "order", keys={"order": Key("调整后的顺序")}
    ),
    AuditAction(
        "renewals.holiday.set", "设置节假日", "date, before, is_workday, name", keys={"name": Key("说明")}
    ),
    AuditAction(
        "renewals.holiday.removed", "删除节假日", "date, is_workday, name", keys={"name": Key("说明")}
    ),
    # --- the registry ---
    AuditAction("registry.staff.created", "登记职工", "fields"),
    AuditAction("registry.staff.updated", "修改职工信息", "{field: [old, new]}"),
    AuditAction("registry.staff.deleted", "删除职工", "fields"),
    AuditAction("registry.vehicle.created", "登记车辆", "fields"),
    AuditAction("registry.vehicle.updated", "修改车辆信息", "{field: [old, new]}"),
    AuditAction("registry.vehicle.deleted", "删除车辆", "fields"),
    AuditAction("registry.pass.created", "办理通行证", "fields / order"),
    AuditAction("registry.pass.updated", "修改通行证", "{field: [old, new]}"),
    AuditAction("registry.pass.deleted", "删除通行证", "fields"),
    AuditAction("registry.pass.imported", "导入通行证", "row, file, changes"),
    AuditAction("registry.import.completed", "导入完成", "file, imported, updated, unchanged, rejected"),
    AuditAction("registry.export.created", "导出登记库", "year, rows"),
    AuditAction("registry.import.uploaded", "上传导入文件", "file, size, sha256, year"),
    AuditAction("registry.import.confirmed", "确认导入", "file"),
    AuditAction("registry.import.rolled_back", "导入失败已撤回", "journal, operations, kept_in_use"),
    # --- people, sign-in, back office ---
    AuditAction("core.phone.viewed", "查看完整手机号", "where"),
    AuditAction(
        "verification.photo.viewed",
        "查看证件照片",
        "viewer（职工本人或查看人的角色）, where（页面）, photo；对象是照片所属订单（未提交时为照片）",
    ),
    AuditAction("verification.photo.deleted", "删除证件照片（保留期满）", "photo；原因在 reason"),
    AuditAction("verification.sms_budget.warning", "验证码短信接近每日上限", "sent, budget"),
    AuditAction("verification.sms_budget.exhausted", "验证码短信达到每日上限", "sent, budget"),
    AuditAction("core.signin.succeeded", "登录", "ip"),
    AuditAction(
        "core.signin.failed",
        "登录失败",
        "username, ip, reason",
        keys={
            "reason": Key(
                "失败原因",
                values={"bad_credentials": "用户名或密码错误", "locked": "已锁定", "no_role": "没有后台角色"},
            )
        },
    ),
    AuditAction("core.signin.locked", "账号锁定", "scope, username, ip, minutes"),
    AuditAction("core.signout", "退出登录", "ip"),
    AuditAction("core.signout.idle", "超时退出", "—"),
    AuditAction("backoffice.user.created", "新建后台用户", "username, full_name, roles"),
    AuditAction("backoffice.user.roles_changed", "修改角色", "roles"),
    AuditAction("backoffice.user.activated", "启用账号", "username"),
    AuditAction("backoffice.user.deactivated", "停用账号", "username"),
    AuditAction("backoffice.user.password_reset", "重置密码", "username"),
    AuditAction("backoffice.user.second_factor_reset", "重置动态口令", "devices"),
    AuditAction("core.password.changed", "修改密码", "—"),
    AuditAction("core.otp.enrolled", "绑定动态口令", "—"),
    AuditAction("core.otp.verified", "动态口令验证通过", "—"),
    AuditAction("core.otp.failed", "动态口令错误", "—"),
    AuditAction(
        "backoffice.export.created",
        "导出",
        "kind, filters, rows, file",
        keys={
            "kind": Key(
                "导出内容",
                values={
                    "orders": "续费订单",
                    "payments": "收款记录",
                    "refunds": "退款记录",
                    "fulfilment": "领取与送证",
                    "passes": "新年度通行证",
                },
            ),
            "status": Key("状态", values=("renewals.RenewalOrder.status", "renewals.Refund.status")),
            "state": Key("发放状态", values={"pending": "待发放", "done": "已发放"}),
            "date_from": Key("开始日期"),
            "date_to": Key("结束日期"),
        },
    ),
    # --- gates (issue 15) ---
    AuditAction("gates.pass.suspended", "暂停通行", "suspension; 原因在 reason"),
    AuditAction("gates.pass.resumed", "恢复通行", "suspension; 原因在 reason"),
    AuditAction("gates.pass.scope_changed", "修改通行范围", "groups: [before, after]"),
    AuditAction("gates.deny.added", "加入禁止通行名单", "原因在 reason"),
    AuditAction("gates.deny.lifted", "移出禁止通行名单", "原因在 reason"),
    AuditAction("gates.key.issued", "签发道闸密钥", "key_id, replaced"),
    AuditAction("gates.key.revoked", "吊销道闸密钥", "key_id"),
    AuditAction("gates.sync.retried", "重试道闸同步", "entries"),
    AuditAction("gates.sync.compare_requested", "请求道闸核对", "—"),
    AuditAction("gates.group.created", "新建停车场/道闸组", "code"),
    AuditAction(
        "gates.gate.registered",
        "登记道闸",
        "kind, group",
        keys={"kind": Key("类型", values="gates.Gate.kind")},
    ),
    # --- vendors ---
    AuditAction("payments.notification.unknown_order", "未知订单的支付通知", "out_trade_no"),
    AuditAction("payments.notification.unknown_refund", "未知退款的通知", "out_refund_no"),
    AuditAction(
        "payments.alert.raised", "微信支付应答需要财务处理", "call, code, key; 含义在 reason", keys=ALERT_KEYS
    ),
    AuditAction(
        "payments.alert.handled",
        "标记微信支付提醒为已处理",
        "call, code, key; 说明在 reason",
        keys=ALERT_KEYS,
    ),
    AuditAction("payments.alert.retried", "处理后重试微信支付调用", "call, code, key", keys=ALERT_KEYS),
    AuditAction("sms.outbox.resent", "重发短信", "messages"),
)

# Codes older versions wrote and no code writes any more: still labelled on the audit screen.
LEGACY: dict[str, str] = {
    "renewals.order.duplicate_payment": "重复支付（旧版记录，已迁入收款台账）",
    "renewals.refund.submitted": "提交退款",
    "renewals.refund.reopened": "重新发起退款",
    "renewals.order.delivered": "已送达",
    "backoffice.signin.succeeded": "登录",
    "backoffice.signin.failed": "登录失败",
    "renewals.order.photo_viewed": "查看证件照片",
    "renewals.order.photo_deleted": "删除证件照片",
}

# Codes renamed since: a filter for the new code also finds the entries written under the old one.
RENAMED: dict[str, str] = {
    "renewals.order.photo_viewed": "verification.photo.viewed",
    "renewals.order.photo_deleted": "verification.photo.deleted",
    "backoffice.signin.succeeded": "core.signin.succeeded",
    "backoffice.signin.failed": "core.signin.failed",
}


def codes_for_filter(prefix: str) -> list[str]:
    """The old codes an action filter `prefix` (a code or a code prefix) must also match."""
    return [old for old, new in RENAMED.items() if new.startswith(prefix)]


BY_CODE: dict[str, AuditAction] = {action.code: action for action in CATALOGUE}


def label(code: str) -> str:
    """The Chinese label of an action code (the code itself when unknown)."""
    entry = BY_CODE.get(code)
    if entry is not None:
        return entry.label
    return LEGACY.get(code, code)


def labels() -> dict[str, str]:
    """Every code with its label, current and legacy."""
    return {**LEGACY, **{a.code: a.label for a in CATALOGUE}}
