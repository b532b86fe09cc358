"""The catalogue of audit actions: every code `log_action` is called with, its Chinese label and what
its `data` holds. The audit screen, its filter and the exports read labels from here; emitters use
the codes. `tests/core/test_audit_catalogue.py` checks that every code written in the source is in
the catalogue and every entry is written somewhere.

Codes are `app.subject.verb`. Moves of a state axis (`renewals.transitions.move`) also carry
`{"axis", "from", "to"}` in their data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditAction:
    code: str
    label: str
    data: str  # what the entry's data holds, for people reading the log or an export


MOVE = "axis/from/to（状态变化）"

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
    AuditAction("renewals.order.photo_viewed", "查看证件照片", "where"),
    AuditAction("renewals.order.photo_deleted", "删除证件照片", "原因在 reason"),
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
    AuditAction("renewals.reject_reason.reordered", "调整原因顺序", "direction"),
    AuditAction("renewals.holiday.set", "设置节假日", "date, is_workday, name"),
    AuditAction("renewals.holiday.removed", "删除节假日", "date"),
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
    AuditAction("verification.sms_budget.warning", "验证码短信接近每日上限", "sent, budget"),
    AuditAction("verification.sms_budget.exhausted", "验证码短信达到每日上限", "sent, budget"),
    AuditAction("core.signin.succeeded", "登录", "ip"),
    AuditAction("core.signin.failed", "登录失败", "username, ip"),
    AuditAction("core.signin.locked", "账号锁定", "username, ip"),
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
    AuditAction("backoffice.export.created", "导出", "kind, filters, rows, file"),
    # --- gates (issue 15) ---
    AuditAction("gates.pass.suspended", "暂停通行", "原因在 reason"),
    AuditAction("gates.pass.resumed", "恢复通行", "原因在 reason"),
    AuditAction("gates.pass.scope_changed", "修改通行范围", "groups: [before, after]"),
    AuditAction("gates.deny.added", "加入禁止通行名单", "原因在 reason"),
    AuditAction("gates.deny.lifted", "移出禁止通行名单", "原因在 reason"),
    AuditAction("gates.key.issued", "签发道闸密钥", "key_id, replaced"),
    AuditAction("gates.key.revoked", "吊销道闸密钥", "key_id"),
    AuditAction("gates.sync.retried", "重试道闸同步", "entries"),
    AuditAction("gates.sync.compare_requested", "请求道闸核对", "—"),
    AuditAction("gates.group.created", "新建停车场/道闸组", "code"),
    AuditAction("gates.gate.registered", "登记道闸", "kind, group"),
    # --- vendors ---
    AuditAction("payments.notification.unknown_order", "未知订单的支付通知", "out_trade_no"),
    AuditAction("payments.notification.unknown_refund", "未知退款的通知", "out_refund_no"),
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
}

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
