"""Forms of the staff pages (the pages themselves parse their few fields by hand)."""

from captcha.fields import CaptchaField, CaptchaTextInput
from django import forms


class HumanCheckForm(forms.Form):
    """The CAPTCHA shown on 现场长租查询 only while the address asks for many codes (otp.captcha_needed)."""

    captcha = CaptchaField(
        label="图中算式的答案",
        widget=CaptchaTextInput(
            attrs={
                "class": "weui-input",
                "inputmode": "numeric",
                "autocomplete": "off",
                "placeholder": "图中算式的答案",
                "aria-label": "图中算式的答案",
            }
        ),
        error_messages={"invalid": "图中算式的答案不正确，请重新输入。"},
    )
