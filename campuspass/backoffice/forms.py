"""Forms of the on-site desk, the settings and the audit log. They parse and give Chinese messages;
the rules themselves (plates, phones, campaign consistency) live in the services, whose
CampusPassError is shown on the field it concerns (`add_service_error`)."""

from __future__ import annotations

from django import forms

from campuspass.core.errors import CampusPassError
from campuspass.registry import fields
from campuspass.registry.models import Pass, Staff
from campuspass.renewals.models import Campaign, RenewalOrder
from campuspass.renewals.services.campaigns import parse_price_yuan

from .roles import ROLES

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]


class ChineseForm(forms.Form):
    """Every field's messages in plain Chinese naming the field and what to do."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            label = field.label or ""
            messages = {
                "required": f"请填写{label}。",
                "invalid": f"{label}格式不正确，请核对后重新填写。",
                "max_length": f"{label}最多 %(limit_value)d 个字。",
                "min_value": f"{label}不能小于 %(limit_value)s。",
                "max_value": f"{label}不能大于 %(limit_value)s。",
                "invalid_choice": f"请从列表中选择{label}。",
            }
            if isinstance(field, forms.ChoiceField | forms.TypedChoiceField | forms.MultipleChoiceField):
                messages["required"] = f"请选择{label}。"
            if isinstance(field, forms.DateField):
                messages["invalid"] = f"{label}格式不正确，请写成 2019-06-12 的格式。"
            if isinstance(field, forms.DateTimeField):
                messages["invalid"] = f"{label}格式不正确，请写成 2019-06-12 08:00 的格式。"
            field.error_messages.update(messages)


def add_service_error(form: forms.Form, exc: CampusPassError, by_code: dict[str, str] | None = None) -> None:
    """Show a service's message on the field it concerns: a FieldError's own field, else the field
    its code points to (else above the form)."""
    field = getattr(exc, "field", None)
    if field not in form.fields:
        field = (by_code or {}).get(exc.code)
    form.add_error(field if field in form.fields else None, exc.message)


REASON_HELP = "必填，会记入审计日志，例如：本人持身份证现场申请更换手机号。"


def reason_field(label: str = "办理原因") -> forms.CharField:
    return forms.CharField(label=label, max_length=200, help_text=REASON_HELP)


# --- on-site desk ----------------------------------------------------------------------------------


class OnsiteSearchForm(ChineseForm):
    q = forms.CharField(label="查询内容", max_length=64, required=False)


# Registry fields: the field and its clean_<field> come from the one rule (registry/fields.py), so
# the desk accepts and refuses what the import and the services do, with the same message.


class StaffForm(ChineseForm):
    staff_no = fields.form_field("staff_no")
    name = fields.form_field("name")
    department = fields.form_field("department")
    mobile = fields.form_field("mobile", help_text="11 位手机号；可带 +86、空格或连字符。")
    status = forms.ChoiceField(label="人员状态", choices=Staff.Status.choices, initial=Staff.Status.ACTIVE)
    reason = reason_field()

    clean_staff_no = fields.form_clean("staff_no")
    clean_name = fields.form_clean("name")
    clean_department = fields.form_clean("department")
    _clean_mobile = fields.form_clean("mobile")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:  # the staff number is the person's identity: not changed here
            del self.fields["staff_no"]
            # The number on file is never put into the page: a phone change is typed in full.
            self.fields["mobile"].widget.attrs.pop("required", None)

    def clean_mobile(self):
        if self.editing and fields.RULES["mobile"].is_empty(self.cleaned_data.get("mobile")):
            return ""  # left empty when editing: the number on file stays
        return self._clean_mobile()


class VehicleForm(ChineseForm):
    plate = fields.form_field("plate", help_text="任意写法均可，如 京a·12345；外省号牌也可现场登记。")
    owner_staff_no = fields.form_field("staff_no", label="车主工号")
    vehicle_type = fields.form_field("vehicle_type")
    brand_model = fields.form_field("brand_model")
    color = fields.form_field("color")
    reason = reason_field()

    clean_plate = fields.form_clean("plate")
    clean_vehicle_type = fields.form_clean("vehicle_type")
    clean_brand_model = fields.form_clean("brand_model")
    clean_color = fields.form_clean("color")

    def clean_owner_staff_no(self):
        try:
            staff_no = fields.clean("staff_no", self.cleaned_data.get("owner_staff_no"))
        except fields.FieldError as exc:
            raise forms.ValidationError(exc.message.replace("工号", "车主工号", 1), code=exc.code) from None
        owner = Staff.objects.filter(staff_no=staff_no).first()
        if owner is None:
            raise forms.ValidationError(f"找不到工号 {staff_no} 的职工，请先登记该职工。")
        self.cleaned_data["owner"] = owner
        return staff_no


class PassEditForm(ChineseForm):
    number = fields.form_field("number")
    review_status = forms.ChoiceField(label="审核状态", choices=Pass.ReviewStatus.choices)
    valid_from = fields.form_field("valid_from", widget=DATE_INPUT)
    valid_to = fields.form_field("valid_to", widget=DATE_INPUT)
    reason = reason_field("修改原因")

    clean_number = fields.form_clean("number")
    clean_valid_from = fields.form_clean("valid_from")
    clean_valid_to = fields.form_clean("valid_to")

    def clean(self):
        data = super().clean()
        try:
            fields.check_validity(data.get("valid_from"), data.get("valid_to"))
        except fields.FieldError as exc:
            self.add_error(exc.field, exc.message)
        return data


COUNTER_METHOD_CHOICES = [("cash", "现金"), ("card", "刷卡（POS 机）")]


class CounterPaymentForm(ChineseForm):
    method = forms.ChoiceField(
        label="缴费方式", choices=COUNTER_METHOD_CHOICES, widget=forms.RadioSelect, initial="cash"
    )
    receipt_no = forms.CharField(label="收据号", max_length=64)


class OnsiteRenewForm(CounterPaymentForm):
    fulfilment = forms.ChoiceField(
        label="领取方式", choices=RenewalOrder.Fulfilment.choices, initial=RenewalOrder.Fulfilment.PICKUP
    )
    delivery_address = forms.CharField(label="校内详细地址", max_length=200, required=False)


class OnsitePassNewForm(CounterPaymentForm):
    reason = forms.CharField(label="办理原因", max_length=200, help_text="如：新入职职工、新购车辆。")


# --- settings -------------------------------------------------------------------------------------


class CampaignForm(ChineseForm):
    year = forms.IntegerField(label="通行证年度", min_value=2000, max_value=2100)
    previous_year = forms.IntegerField(label="可续费的上一年度", min_value=2000, max_value=2100)
    product_name = forms.CharField(
        label="商品名称", max_length=100, help_text="显示在“出售中”，如：2019年医学部机动车通行证"
    )
    price_yuan = forms.CharField(label="价格（元）", max_length=16, help_text="如 150 或 150.00")
    window_start = forms.DateTimeField(
        label="线上办理开始", widget=DATETIME_INPUT, input_formats=DATETIME_FORMATS
    )
    window_end = forms.DateTimeField(
        label="线上办理结束", widget=DATETIME_INPUT, input_formats=DATETIME_FORMATS
    )
    valid_from = forms.DateField(label="新证有效期起", widget=DATE_INPUT)
    valid_to = forms.DateField(label="新证有效期止", widget=DATE_INPUT)
    local_prefixes = forms.CharField(
        label="可线上办理的号牌前缀", max_length=64, initial="京", help_text="多个用逗号分隔，如：京,津"
    )
    pickup_place = forms.CharField(label="领取地点", max_length=100, initial="行政2号楼1层122、123室")
    pickup_hours = forms.CharField(label="领取时间", max_length=100, initial="工作日 8:30—11:30，13:30—17:00")
    contact_phones = forms.CharField(label="咨询电话", max_length=100, initial="82802290、82805604")
    pickup_delay_working_days = forms.IntegerField(
        label="制证工作日数",
        min_value=0,
        max_value=30,
        initial=1,
        help_text="审核通过后制证需要的完整工作日数，制证完成后的下一个工作日起可领取。",
    )
    print_cutoff = forms.TimeField(
        label="当天制证截止时间",
        required=False,
        initial="15:00",
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="工作日此时间前审核通过的当天开始制证；此后或休息日审核通过的从下一个工作日开始。",
    )
    unpaid_timeout_minutes = forms.IntegerField(
        label="未支付订单超时（分钟）", min_value=5, max_value=1440, initial=15
    )
    photo_retention_days = forms.IntegerField(
        label="审核后证件照片保留天数", min_value=0, max_value=3650, initial=30
    )
    auto_refund_on_reject = forms.BooleanField(
        label="审核不通过时自动退款", required=False, help_text="不勾选：按通知，由职工本人申请退款。"
    )
    pass_number_prefix = forms.CharField(label="通行证编号前缀", max_length=16, initial="YXB")

    def clean_price_yuan(self):
        try:
            self.cleaned_data["price_fen"] = parse_price_yuan(self.cleaned_data["price_yuan"])
        except CampusPassError as exc:
            raise forms.ValidationError(exc.message) from None
        return self.cleaned_data["price_yuan"]

    def service_values(self) -> dict:
        values = {k: v for k, v in self.cleaned_data.items() if k != "price_yuan"}
        if values.get("print_cutoff") is None:
            values.pop("print_cutoff", None)  # left empty: keep the campaign's (15:00 when new)
        return values

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict:
        initial = {name: getattr(campaign, name) for name in cls.base_fields if hasattr(campaign, name)}
        initial["price_yuan"] = campaign.price_yuan
        return initial


CAMPAIGN_ERROR_FIELDS = {
    "price": "price_yuan",
    "prefixes": "local_prefixes",
    "pass_prefix": "pass_number_prefix",
    "years": "previous_year",
    "year": "year",
    "duplicate": "year",
    "window": "window_end",
    "validity": "valid_to",
}


class ConsentForm(ChineseForm):
    text = forms.CharField(label="知情同意书正文", widget=forms.Textarea(attrs={"rows": 16}))


class RejectReasonForm(ChineseForm):
    text = forms.CharField(label="不通过原因", max_length=100)


class HolidayForm(ChineseForm):
    date = forms.DateField(label="日期", widget=DATE_INPUT)
    kind = forms.ChoiceField(label="类型", choices=[("off", "放假"), ("work", "调休上班")])
    name = forms.CharField(label="说明", max_length=50, required=False, help_text="如：端午节")


ROLE_CHOICES = [(r, r) for r in ROLES]


class UserCreateForm(ChineseForm):
    username = forms.CharField(label="用户名", max_length=150, help_text="登录时使用，如工号或姓名拼音")
    full_name = forms.CharField(label="姓名", max_length=150)
    roles = forms.MultipleChoiceField(label="角色", choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple)


class UserRolesForm(ChineseForm):
    roles = forms.MultipleChoiceField(
        label="角色", choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )


# --- audit log ------------------------------------------------------------------------------------

COMMON_ACTIONS = [
    ("renewals.order.", "续费订单（全部）"),
    ("renewals.order.created", "提交订单"),
    ("renewals.order.paid", "已支付"),
    ("renewals.order.approved", "审核通过"),
    ("renewals.order.rejected", "审核不通过"),
    ("renewals.order.closed", "订单关闭"),
    ("renewals.order.handed_out", "发放"),
    ("verification.photo.viewed", "查看证件照片"),
    ("renewals.refund.", "退款（全部）"),
    ("registry.", "登记信息（全部）"),
    ("registry.staff.", "职工信息"),
    ("registry.vehicle.", "车辆信息"),
    ("registry.pass.", "通行证"),
    ("core.phone.viewed", "查看完整手机号"),
    ("renewals.campaign.", "活动设置"),
    ("renewals.consent.", "知情同意书"),
    ("backoffice.user.", "后台用户"),
    ("core.signin.", "登录"),
    ("backoffice.", "后台（全部）"),
]


class AuditFilterForm(ChineseForm):
    person = forms.CharField(label="人员（工号或姓名）", max_length=64, required=False)
    plate = forms.CharField(label="车牌号", max_length=20, required=False)
    order = forms.CharField(label="订单（商户订单号或编号）", max_length=40, required=False)
    actor = forms.CharField(label="操作人（用户名）", max_length=150, required=False)
    action = forms.CharField(label="操作", max_length=100, required=False)
    date_from = forms.DateField(label="开始日期", required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label="结束日期", required=False, widget=DATE_INPUT)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "结束日期不能早于开始日期。")
        return data
