"""ONE table: what we do with every documented error code of every WeChat Pay call we make.

Sources (decision 0011): the error tables of the WeChat Pay API v3 pages for JSAPI下单, 查询订单
(商户订单号), 关闭订单, 申请退款, 查询单笔退款, 申请交易账单 and 下载账单 (pay.weixin.qq.com), as
repeated in the official SDKs' generated comments (wechatpay-go services/refunddomestic/api_refunds.go
and services/profitsharing/api_bill_shipment.go for the bill's NO_STATEMENT_EXIST; the SDKs we pin
return them unchanged as the `code` of the JSON error body). Codes of our own: "network" (no answer),
"sdk_error" (an answer whose signature did not verify), "provider_error" (an answer without a code).

The reactions:
- FINAL: the platform's answer is definitive for this request; apply it and never resend.
- RETRY_LATER: nothing is known yet (or the thing is not ready); ask again at the next scheduled run,
  with identical parameters.
- BACKOFF: the platform is overloaded or failing; resend with identical parameters after a growing
  delay (`backoff_delay`).
- FINANCE: a person must act (our configuration, the merchant account, money); stop retrying and
  show it to finance with `meaning`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Reaction(StrEnum):
    FINAL = "final"
    RETRY_LATER = "retry_later"
    BACKOFF = "backoff"
    FINANCE = "finance"


@dataclass(frozen=True)
class Answer:
    reaction: Reaction
    meaning: str  # Chinese, for finance and the logs

    @property
    def retry(self) -> bool:
        return self.reaction in {Reaction.RETRY_LATER, Reaction.BACKOFF}


F, R, B, M = Reaction.FINAL, Reaction.RETRY_LATER, Reaction.BACKOFF, Reaction.FINANCE

# The calls we make (names used by the provider adapters and the services).
CALLS = ("jsapi", "query", "close", "refund", "query_refund", "trade_bill", "download_bill")
CALL_LABELS = {
    "jsapi": "JSAPI 下单",
    "query": "查询订单",
    "close": "关闭订单",
    "refund": "申请退款",
    "query_refund": "查询退款",
    "trade_bill": "申请交易账单",
    "download_bill": "下载账单",
}

# Answers every call shares (the documents' common error codes and our own transport codes).
COMMON: dict[str, Answer] = {
    "SYSTEM_ERROR": Answer(B, "微信支付系统繁忙，将以相同参数稍后重试"),
    "BANKERROR": Answer(B, "银行系统异常，将以相同参数稍后重试"),
    "FREQUENCY_LIMITED": Answer(B, "请求频率超限，将降低频率后重试"),
    # The bill APIs' name for the same limit (wechatpay-go profitsharing/api_bill_shipment.go: 429).
    "RATELIMIT_EXCEED": Answer(B, "请求频率超限，将降低频率后重试"),
    "network": Answer(B, "暂时无法连接微信支付，将稍后重试"),
    "sdk_error": Answer(M, "微信支付应答的签名无法验证：请检查微信支付公钥/平台证书配置"),
    "SIGN_ERROR": Answer(M, "请求签名错误：请检查商户 API 证书序列号与私钥配置"),
    "MCH_NOT_EXISTS": Answer(M, "商户号不存在：请检查 WECHATPAY_MCHID"),
    "APPID_MCHID_NOT_MATCH": Answer(M, "AppID 与商户号未绑定：请在商户平台关联公众号"),
    "NO_AUTH": Answer(M, "商户无此接口权限：请在商户平台开通 JSAPI 支付/退款权限"),
    "PARAM_ERROR": Answer(M, "请求参数错误：需要技术人员检查"),
    "INVALID_TRANSACTIONID": Answer(M, "微信支付订单号非法：需要技术人员检查"),
    "INVALID_REQUEST": Answer(M, "请求不符合业务规则：请财务人员查看说明后处理"),
    "provider_error": Answer(M, "微信支付返回了未识别的错误：请财务人员查看"),
}

TABLE: dict[tuple[str, str], Answer] = {
    # JSAPI 下单
    ("jsapi", "ORDERPAID"): Answer(F, "该订单已支付：以查询结果入账"),
    ("jsapi", "ORDER_CLOSED"): Answer(F, "该商户订单号已关闭：不能再支付，订单按已关闭处理"),
    ("jsapi", "OUT_TRADE_NO_USED"): Answer(F, "商户订单号已用其他参数下单：不能以不同参数重复下单"),
    ("jsapi", "RULE_LIMIT"): Answer(F, "交易受微信支付风控规则限制：请付款人换用其他支付方式"),
    ("jsapi", "TRADE_ERROR"): Answer(F, "交易错误（如付款人账户异常）：请付款人联系微信支付"),
    ("jsapi", "ACCOUNT_ERROR"): Answer(M, "商户账号异常：请财务人员登录商户平台处理"),
    ("jsapi", "OPENID_MISMATCH"): Answer(F, "付款人与 AppID 不匹配：请在公众号内重新打开页面"),
    ("jsapi", "NOT_ENOUGH"): Answer(F, "付款人零钱余额不足：请付款人更换支付方式"),
    # 查询订单
    ("query", "ORDER_NOT_EXIST"): Answer(F, "平台上没有该订单：从未成功下单"),
    # 关闭订单
    ("close", "ORDERPAID"): Answer(F, "订单已支付，不能关闭：以查询结果入账"),
    ("close", "ORDER_CLOSED"): Answer(F, "订单已关闭：无需再关闭"),
    ("close", "ORDER_NOT_EXIST"): Answer(F, "平台上没有该订单：无需关闭"),
    # 申请退款
    ("refund", "RESOURCE_NOT_EXISTS"): Answer(F, "订单号不存在或订单未支付：不能退款"),
    ("refund", "USER_ACCOUNT_ABNORMAL"): Answer(M, "付款人微信账户已注销：退款失败，请线下退款"),
    ("refund", "NOT_ENOUGH"): Answer(M, "商户可用退款余额不足：请充值后在退款页重试"),
    # "此状态代表退款申请失败，商户可根据具体的错误提示做相应的处理" (api_refunds.go): a person reads it.
    ("refund", "INVALID_REQUEST"): Answer(M, "退款不符合业务规则（如超过可退金额）：请按微信支付的说明处理"),
    ("refund", "PARAM_ERROR"): Answer(F, "退款参数错误：退款失败，需要技术人员检查"),
    # 查询单笔退款
    ("query_refund", "RESOURCE_NOT_EXISTS"): Answer(R, "平台上还查不到该退款：稍后再查"),
    # 申请交易账单 / 下载账单
    ("trade_bill", "NO_STATEMENT_EXIST"): Answer(F, "当日没有交易，账单为空"),
    ("trade_bill", "STATEMENT_CREATING"): Answer(R, "账单生成中：次日上午 10 点后再取"),
    ("trade_bill", "PARAM_ERROR"): Answer(M, "账单日期或参数错误：账单只保留三个月"),
    # The bill APIs also answer INVALID_REQUEST "请求的账单正在生成中" (api_bill_shipment.go):
    # ask again on the next run, as for STATEMENT_CREATING.
    ("trade_bill", "INVALID_REQUEST"): Answer(R, "账单暂不可下载（仍在生成中）：稍后再取"),
    ("download_bill", "bill_hash"): Answer(B, "下载的账单校验失败：稍后重新下载"),
}


def decide(call: str, code: str) -> Answer:
    """The decided answer to `code` returned by `call`; an undocumented code goes to finance."""
    if call not in CALLS:
        raise ValueError(f"unknown WeChat Pay call {call!r}")
    return TABLE.get((call, code)) or COMMON.get(code) or Answer(M, f"未识别的错误码 {code}：请财务人员查看")


BACKOFF_STEPS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600)


def backoff_delay(attempts: int) -> dt.timedelta:
    """How long to wait before attempt `attempts + 1` of a BACKOFF answer (1 min … 6 h, then 6 h)."""
    step = BACKOFF_STEPS[min(max(attempts, 1), len(BACKOFF_STEPS)) - 1]
    return dt.timedelta(seconds=step)
