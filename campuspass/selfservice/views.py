"""The staff member's pages (product.md section 3), in the notice's order and with its labels.

Views parse, authorise, call one service and render. The SMS code unlocks exactly one plate for
this browser session (`campuspass.verification.otp.grant`); every page that shows a person's data
or acts on an order checks that plate, and an order of another plate answers 404 — the same as an
order that does not exist, so ids cannot be probed."""

from __future__ import annotations

import functools
import logging
import math
import re
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_int
from campuspass.core.net import client_ip
from campuspass.core.phones import mask_phone
from campuspass.core.plates import InvalidPlate, normalize_plate
from campuspass.payments.errors import Reaction, decide
from campuspass.payments.providers import PaymentProviderError, get_provider
from campuspass.registry.models import Pass, Vehicle
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.selectors import (
    current_campaign,
    onsite_instructions,
    orders_for_plate,
    pickup_rule,
    renewal_eligibility,
)
from campuspass.renewals.services.orders import order_create, order_record_consent, order_set_fulfilment
from campuspass.renewals.services.payments import expires_at, payment_start, payment_sync_on_return
from campuspass.renewals.services.refunds import order_refund_route, order_refunds, refund_request
from campuspass.selfservice.forms import HumanCheckForm
from campuspass.verification import documents, otp

logger = logging.getLogger(__name__)
S = RenewalOrder.Status

PENDING_KEY = "ss.pending"  # {"plate", "purpose", "resend_at"} between "确定" and the code
PHOTO_KEY = "ss.photo"  # the key of the uploaded ID photo of the renewal being prepared
OPENID_KEY = "ss.openid"
OAUTH_KEY = "ss.oauth"
FORM_KEY = "ss.form"  # a refused POST's error and input, shown by the GET it redirects to
NEXT_KEY = "ss.next"  # the order page to open once plate and code are verified again
_NEXT_RE = re.compile(r"/m/orders/[0-9]{1,12}/(?:[a-z-]+/){0,2}")
OAUTH_TRIED_KEY = "ss.oauth_tried"  # the silent OAuth before the first code is tried once a session
PURPOSES = {otp.PURPOSE_LOOKUP: "selfservice:record", otp.PURPOSE_ORDERS: "selfservice:orders"}
RESULT_REFRESH_SECONDS = 1  # 支付结果确认中 reloads itself this often (cheap: no platform query each time)
# … this many times (a minute), then waits for the staff member's 刷新支付结果: a page left open on
# an order that was never paid must not ask the platform every 5 s until the order closes.
RESULT_REFRESH_LIMIT = 60


MSG_PAY_NEEDS_OFFICE = (
    "暂时无法发起微信支付：支付设置需要保卫处处理，已自动通知财务人员。您的订单已保留，"
    "请稍后再点“立即支付”；如急需办理，可到{place}现场办理。"
)


def in_wechat(request: HttpRequest) -> bool:
    return "MicroMessenger" in request.headers.get("User-Agent", "")


def unlocked_plate(request: HttpRequest) -> str | None:
    return otp.granted_plate(request.session)


class NeedVerification(Exception):
    """No plate is unlocked (never verified, or the 30 minutes are over): ask plate and code again,
    then come back to the page that was asked for (``order_page``)."""


def order_page(view):
    """An order's page: without a verified plate it asks for plate and code, then shows the order."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, pk: int, *args, **kwargs):
        try:
            return view(request, pk, *args, **kwargs)
        except NeedVerification:
            next_url = reverse("selfservice:order", args=[pk]) if request.method != "GET" else request.path
            request.session[NEXT_KEY] = next_url
            messages.info(
                request,
                "为保护您的信息，验证 30 分钟后需要重新验证。请输入车牌号并获取验证码，验证后将打开该订单。",
            )
            return redirect(f"{reverse('selfservice:lookup')}?for={otp.PURPOSE_ORDERS}")

    return wrapper


def own_order(request: HttpRequest, pk: int) -> RenewalOrder:
    """The order, if it belongs to the plate this session unlocked; else 404 (never 403).
    Without any unlocked plate: ``NeedVerification`` (the page asks for plate and code)."""
    plate = unlocked_plate(request)
    if plate is None:
        raise NeedVerification
    order = (
        RenewalOrder.objects.select_related("campaign", "staff", "vehicle", "new_pass")
        .filter(pk=pk, plate=plate)
        .first()
        if plate
        else None
    )
    if order is None:
        raise Http404("没有找到该订单")
    return order


def _discard_pending_photo(request: HttpRequest) -> None:
    """Forget the photo of a renewal being prepared (and delete it unless an order uses it)."""
    documents.discard(request.session.pop(PHOTO_KEY, None))


def own_order_as_paid(request: HttpRequest, pk: int) -> RenewalOrder:
    """The order with the payment platform's truth: an unpaid order that may have been paid is
    queried (the notification may be late or lost) — once it is a few seconds late, and at most
    every few seconds per order (`payment_sync_on_return`, decision 0042)."""
    order = own_order(request, pk)
    if order.status == S.PENDING_PAYMENT:
        synced = payment_sync_on_return(order=order)
        if synced is not order or synced.status != S.PENDING_PAYMENT:
            order = own_order(request, pk)  # paid (or changed) meanwhile: the page shows it as it is
    return order


def need_code(request: HttpRequest, purpose: str) -> HttpResponse:
    messages.info(request, "请先输入车牌号并完成短信验证。")
    return redirect(f"{reverse('selfservice:lookup')}?for={purpose}")


def next_step(order: RenewalOrder) -> str:
    """What the staff member should do (or wait for) next, in one sentence."""
    campaign = order.campaign
    if order.status == S.AWAITING_CONSENT:
        return "请阅读并同意《知情同意书》后支付。"
    if order.status == S.PENDING_PAYMENT:
        deadline = timezone.localtime(expires_at(order))
        return f"请于 {deadline:%H:%M} 前完成支付，超时订单将自动关闭。"
    delivery = order.fulfilment == RenewalOrder.Fulfilment.DELIVERY
    bring = f"工作证（校园一卡通）和{campaign.previous_year}年度旧证"
    if order.status == S.PAID:
        if delivery:
            then = f"审核通过后保卫处将派人送到{order.delivery_address}，届时请出示{bring}交回旧证"
        else:
            then = f"{pickup_rule(campaign)}可到{campaign.pickup_place}领取（{campaign.pickup_hours}），请带{bring}"
        return f"已支付，等待保卫处审核，结果将以短信通知。{then}。"
    if order.status == S.APPROVED:
        handover = order.fulfilment_status
        if order.handed_over:
            return "通行证已送达。" if handover == RenewalOrder.Handover.DELIVERED else "通行证已领取。"
        if handover == RenewalOrder.Handover.DELIVERING:
            return f"配送中：保卫处配送员将把通行证送到{order.delivery_address}。届时请出示{bring}交回旧证。"
        if delivery:
            return f"审核通过，保卫处将派人送到：{order.delivery_address}。届时请出示{bring}交回旧证。"
        when = f"于{order.pickup_from:%Y年%-m月%-d日}起" if order.pickup_from else ""
        return f"审核通过，请{when}携带{bring}到{campaign.pickup_place}领取（{campaign.pickup_hours}）。"
    if order.status == S.REJECTED:
        route = order_refund_route(order)
        if route is not None and route.online and not route.automatic:
            return f"审核未通过：{order.reject_reason}。请点击“申请退款”，款项将原路退回。"
        return f"审核未通过：{order.reject_reason}。{route.staff_text if route else ''}"
    if order.status == S.REFUNDING:
        # The refund line above it already says 退款处理中: said once (issue 14).
        return "款项将在 2 小时至 15 天内原路退回，到账后订单显示“已退款”并有短信通知。"
    if order.status == S.REFUNDED:
        return "已退款，款项已原路退回。"
    if order.status == S.REFUND_FAILED:
        return f"退款处理异常，保卫处财务会尽快处理，无需再次申请。咨询电话：{campaign.contact_phones}。"
    return "订单已关闭（超时未支付或已取消）。如需办理，请重新提交。"


# --- home, menu, lookup and the SMS code ------------------------------------------------------


@require_GET
def home(request):
    return render(request, "selfservice/home.html", {"campaign": current_campaign()})


@require_GET
def menu(request):
    return render(request, "selfservice/menu.html", {"plate": unlocked_plate(request)})


def _wechat_identity_redirect(request: HttpRequest) -> HttpResponse | None:
    """Inside WeChat with the real provider, learn the staff member's openid (silent snsapi_base
    OAuth) before the first code, so that codes are limited per WeChat user and not per address.
    Tried once per session: a failed OAuth never loops."""
    if request.session.get(OPENID_KEY) or request.session.get(OAUTH_TRIED_KEY) or not in_wechat(request):
        return None
    provider = get_provider()
    if provider.name != "wechatpay":
        return None
    request.session[OAUTH_TRIED_KEY] = True
    state = get_random_string(32)  # WeChat allows only a-z, A-Z, 0-9 in state (token_urlsafe has - and _)
    request.session[OAUTH_KEY] = {"state": state, "next": request.get_full_path()}
    return redirect(provider.oauth_url(settings.SITE_URL + reverse("selfservice:oauth"), state))


@never_cache
@require_http_methods(["GET", "POST"])
def lookup(request):
    """ "现场长租查询" / "订单记录": 输入车牌号, 确定 → a code to the number on file.

    Many staff share one campus address: the address only gets a CAPTCHA once it has asked for
    many codes within the hour (``otp.captcha_needed``); each person is limited by their own phone,
    plate, browser session and WeChat openid."""
    purpose = request.POST.get("for") or request.GET.get("for") or otp.PURPOSE_LOOKUP
    if purpose not in PURPOSES:
        purpose = otp.PURPOSE_LOOKUP
    ip = client_ip(request)
    context = {"purpose": purpose, "plate_input": ""}
    if request.method == "GET":
        response = _wechat_identity_redirect(request)
        if response:
            return response
    if request.method == "POST":
        raw = request.POST.get("plate", "")
        context["plate_input"] = raw[:20]
        try:
            plate = normalize_plate(raw)
        except InvalidPlate as exc:
            context["error"] = exc.reason
            return _render_lookup(request, context, False)
        # The CAPTCHA is checked when the form carries one; whether the address needs it is decided
        # by request_code, in the same read as the SMS budget (one statement less per request).
        human_checked = "captcha_0" in request.POST and HumanCheckForm(request.POST).is_valid()
        binding = otp.session_binding(request.session)  # the session is saved once, by the middleware
        phone = Vehicle.objects.filter(plate=plate).values_list("owner__mobile", flat=True).first()
        result = otp.request_code(
            plate=plate,
            phone_on_file=phone,
            session_key=binding,
            ip=ip,
            purpose=purpose,
            openid=request.session.get(OPENID_KEY, ""),
            human_checked=human_checked,
        )
        if result.code == "captcha":
            context["captcha_error"] = (
                "图中算式的答案不正确或已过期，请看新图重新输入。"
                if request.POST.get("captcha_1")
                else "请输入图中算式的答案。"
            )
            return _render_lookup(request, context, True)
        if result.code == "budget":
            context["error"] = result.message
            campaign = current_campaign()
            if campaign:
                context["error"] += f"（现场办理：{campaign.pickup_place}，{campaign.pickup_hours}）"
            return _render_lookup(request, context, False)
        request.session[PENDING_KEY] = {
            "plate": plate,
            "purpose": purpose,
            "resend_at": time.time() + max(result.retry_after_seconds, 0),
            "notice": result.message,
            "throttled": not result.sent and result.code != "sent",
        }
        return redirect("selfservice:verify")
    return _render_lookup(request, context, otp.captcha_needed(ip))


def _render_lookup(request: HttpRequest, context: dict, needs_captcha: bool) -> HttpResponse:
    if request.method == "POST":
        # Post/redirect/get: back and refresh never meet "Confirm Form Resubmission".
        _keep_form(request, "lookup", context, "error", "captcha_error", "plate_input")
        return redirect(f"{reverse('selfservice:lookup')}?for={context['purpose']}")
    context.update(_kept_form(request, "lookup"))
    if needs_captcha:
        context["captcha_form"] = HumanCheckForm()
    return render(request, "selfservice/lookup.html", context)


def _keep_form(request: HttpRequest, page: str, context: dict, *names: str) -> None:
    """What a refused POST has to show (its error, what was typed) for the GET it redirects to."""
    request.session[FORM_KEY] = {"page": page, **{n: context[n] for n in names if context.get(n)}}


def _kept_form(request: HttpRequest, page: str) -> dict:
    kept = request.session.get(FORM_KEY)
    if not isinstance(kept, dict) or kept.get("page") != page:
        return {}
    request.session.pop(FORM_KEY, None)
    return {k: v for k, v in kept.items() if k != "page" and isinstance(v, str)}


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request):
    """ "输入获取到的验证码", "确定": unlock this plate for this browser session."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or "plate" not in pending:
        return redirect("selfservice:lookup")
    if request.method == "POST":
        result = otp.verify_code(
            plate=pending["plate"],
            session_key=request.session.get(otp.BINDING_SESSION_KEY) or "",
            purpose=pending["purpose"],
            code=request.POST.get("code", ""),
            ip=client_ip(request),
        )
        if result.ok:
            if unlocked_plate(request) != pending["plate"]:
                # A photo uploaded for another plate must not follow into this plate's order.
                _discard_pending_photo(request)
            next_url = request.session.pop(NEXT_KEY, None)
            otp.grant(request.session, pending["plate"])
            request.session.pop(PENDING_KEY, None)
            # Only the 订单记录 verification the order link asked for opens that order.
            if (
                pending["purpose"] == otp.PURPOSE_ORDERS
                and isinstance(next_url, str)
                and _NEXT_RE.fullmatch(next_url)
            ):
                return redirect(next_url)
            return redirect(PURPOSES[pending["purpose"]])
        _keep_form(request, "verify", {"error": result.message}, "error")
        return redirect("selfservice:verify")
    # The campaign is read for the page only: the POST redirects either way (one statement less).
    campaign = current_campaign()
    context = {
        "plate": pending["plate"],
        "purpose": pending["purpose"],
        "notice": pending.get("notice", ""),
        "throttled": pending.get("throttled", False),
        "resend_in": max(0, int(pending.get("resend_at", 0) - time.time())),
        "resend_minutes": math.ceil(max(0, pending.get("resend_at", 0) - time.time()) / 60),
        "phones": campaign.contact_phones if campaign else "",
        "place": campaign.pickup_place if campaign else "",
    }
    context.update(_kept_form(request, "verify"))
    return render(request, "selfservice/verify.html", context)


@require_POST
def logout(request):
    otp.revoke(request.session)
    request.session.flush()
    return redirect("selfservice:home")


# --- the record and the renewal -----------------------------------------------------------------


@never_cache
@require_GET
def record(request):
    plate = unlocked_plate(request)
    if plate is None:
        return need_code(request, otp.PURPOSE_LOOKUP)
    vehicle = Vehicle.objects.select_related("owner").filter(plate=plate).first()
    passes = (
        Pass.objects.select_related("holder").filter(vehicle=vehicle).order_by("-year")[:3] if vehicle else []
    )
    campaign = current_campaign()
    eligibility = renewal_eligibility(plate=plate, campaign=campaign)
    return render(
        request,
        "selfservice/record.html",
        {
            "plate": plate,
            "vehicle": vehicle,
            "owner": vehicle.owner if vehicle else None,
            "masked_phone": mask_phone(vehicle.owner.mobile) if vehicle else "",
            "passes": passes,
            "campaign": campaign,
            "eligibility": eligibility,
            "onsite": onsite_instructions(campaign) if campaign else "",
        },
    )


def _renewal_context(request):
    """(plate, campaign, eligibility) for the renewal pages, or a redirect explaining why not."""
    plate = unlocked_plate(request)
    if plate is None:
        return None, need_code(request, otp.PURPOSE_LOOKUP)
    campaign = current_campaign()
    eligibility = renewal_eligibility(plate=plate, campaign=campaign)
    if not eligibility.ok:
        messages.warning(request, eligibility.message)
        return None, redirect("selfservice:record")
    if eligibility.open_order is not None and eligibility.open_order.status == S.PENDING_PAYMENT:
        # An unpaid order already agreed to: continue it rather than start again.
        return None, redirect("selfservice:pay", pk=eligibility.open_order.pk)
    return (plate, campaign, eligibility), None


@never_cache
@require_GET
def renew(request):
    """ "续费": the campaign's product under "出售中"."""
    ctx, response = _renewal_context(request)
    if response:
        return response
    plate, campaign, eligibility = ctx
    return render(request, "selfservice/renew.html", {"plate": plate, "campaign": campaign})


@never_cache
@require_GET
def owner(request):
    """ "添加车主信息": the owner exactly as on file; nothing can be changed or added."""
    ctx, response = _renewal_context(request)
    if response:
        return response
    plate, campaign, eligibility = ctx
    holder = eligibility.previous_pass.holder
    return render(
        request,
        "selfservice/owner.html",
        {"plate": plate, "campaign": campaign, "holder": holder, "masked_phone": mask_phone(holder.mobile)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def photo(request):
    """ "添加图片": the staff ID card photo (camera or album)."""
    ctx, response = _renewal_context(request)
    if response:
        return response
    plate, campaign, eligibility = ctx
    context = {
        "plate": plate,
        "campaign": campaign,
        "has_photo": bool(
            documents.owned(request.session.get(PHOTO_KEY), plate=plate) or _open_order_photo(eligibility)
        ),
    }
    if request.method == "POST":
        upload = request.FILES.get("photo")
        error = ""
        if upload is None:
            error = "请选择或拍摄工作证（校园一卡通）照片后再上传。"
        else:
            try:
                stored = documents.replace(
                    request.session.get(PHOTO_KEY),
                    upload,
                    plate=plate,
                    staff_no=eligibility.previous_pass.holder.staff_no,
                )
            except CampusPassError as exc:
                error = exc.message
        if error:
            _keep_form(request, "photo", {"error": error}, "error")
            return redirect("selfservice:photo")
        request.session[PHOTO_KEY] = stored.key
        return redirect("selfservice:confirm")
    context.update(_kept_form(request, "photo"))
    return render(request, "selfservice/photo.html", context)


def _open_order_photo(eligibility) -> str:
    """The key of the photo of this plate's submitted but not yet agreed order (back from 知情同意书)."""
    order = eligibility.open_order
    if (
        order is not None
        and order.status == S.AWAITING_CONSENT
        and order.id_photo is not None
        and not order.id_photo.deleted
    ):
        return order.id_photo.key
    return ""


@never_cache
@require_GET
def pending_photo(request):
    """The photo being prepared, to this session only."""
    plate = unlocked_plate(request)
    photo = documents.owned(request.session.get(PHOTO_KEY), plate=plate)
    if photo is None:
        raise Http404("没有照片")
    try:
        return documents.view(photo, plate=plate, where="selfservice.confirm")
    except CampusPassError as exc:
        raise Http404(exc.message) from exc


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request):
    """ "确认相关内容一致", then "提交订单" (one open order per pass and year, however often)."""
    ctx, response = _renewal_context(request)
    if response:
        return response
    plate, campaign, eligibility = ctx
    name = request.session.get(PHOTO_KEY)
    if name and documents.owned(name, plate=plate) is None:
        # Deleted after a day unused, or uploaded under another plate: ask for it again.
        request.session.pop(PHOTO_KEY, None)
        name = None
    open_order = eligibility.open_order if _open_order_photo(eligibility) else None
    if not name and open_order is not None:
        # Back from 知情同意书: the order was submitted with its photo; submitting again continues it.
        name = open_order.id_photo.key
    if not name:
        messages.info(request, "请先上传工作证照片。")
        return redirect("selfservice:photo")
    holder = eligibility.previous_pass.holder
    context = {
        "plate": plate,
        "campaign": campaign,
        "holder": holder,
        "vehicle": eligibility.previous_pass.vehicle,
        "masked_phone": mask_phone(holder.mobile),
        "fulfilment": request.POST.get("fulfilment", RenewalOrder.Fulfilment.PICKUP),
        "address": request.POST.get("address", "")[:200],
        "photo_url": (
            reverse("selfservice:order-photo", args=[open_order.pk])
            if open_order is not None and name == open_order.id_photo.key
            else reverse("selfservice:pending-photo")
        ),
    }
    if request.method == "GET":
        if open_order is not None:
            context.update(fulfilment=open_order.fulfilment, address=open_order.delivery_address)
        context.update(_kept_form(request, "confirm"))
        return render(request, "selfservice/confirm.html", context)
    try:
        order = order_create(
            plate=plate,
            campaign=campaign,
            id_photo=name,
            fulfilment=context["fulfilment"],
            delivery_address=context["address"],
        )
    except CampusPassError as exc:
        context["error"] = exc.message
        _keep_form(request, "confirm", context, "error", "fulfilment", "address")
        return redirect("selfservice:confirm")
    if order.id_photo is not None and order.id_photo.key == name:
        request.session.pop(PHOTO_KEY, None)
    return redirect("selfservice:consent", pk=order.pk)


@never_cache
@require_http_methods(["GET", "POST"])
@order_page
def consent(request, pk: int):
    """ "知情同意书", "同意": who agreed to which version, when, from which device."""
    order = own_order(request, pk)
    if order.status != S.AWAITING_CONSENT:
        return redirect(
            "selfservice:pay" if order.status == S.PENDING_PAYMENT else "selfservice:order", pk=pk
        )
    version = order.campaign.current_consent()
    if version is None:
        messages.error(
            request, f"知情同意书尚未发布，暂时无法支付。请联系保卫处：{order.campaign.contact_phones}。"
        )
        return redirect("selfservice:order", pk=pk)
    if request.method == "POST":
        try:
            order_record_consent(
                order=order,
                consent_version=version,
                ip_address=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except CampusPassError as exc:
            messages.error(request, exc.message)
            return redirect("selfservice:order", pk=pk)
        return redirect("selfservice:pay", pk=pk)
    return render(request, "selfservice/consent.html", {"order": order, "version": version})


@never_cache
@require_http_methods(["GET", "POST"])
@order_page
def pay(request, pk: int):
    """ "立即支付": WeChat Pay JSAPI inside WeChat; the simulator's cashier in development."""
    order = own_order(request, pk)
    if order.status == S.AWAITING_CONSENT:
        return redirect("selfservice:consent", pk=pk)
    if order.status != S.PENDING_PAYMENT:
        return redirect("selfservice:result", pk=pk)
    provider = get_provider()
    # The deadline (a read of the frozen terms) only for a page shown; 立即支付 reads them itself.
    context = {
        "order": order,
        "deadline": lambda: timezone.localtime(expires_at(order)),
        "provider": provider.name,
    }
    if provider.name == "wechatpay" and not in_wechat(request):
        context["open_in_wechat"] = True
        return render(request, "selfservice/pay.html", context)
    if request.method == "GET":
        return render(request, "selfservice/pay.html", context)
    openid = ""
    if provider.name == "wechatpay":
        openid = request.session.get(OPENID_KEY, "")
        if not openid:
            state = get_random_string(32)  # WeChat allows only a-z, A-Z, 0-9 in state
            request.session[OAUTH_KEY] = {"state": state, "next": reverse("selfservice:pay", args=[pk])}
            return redirect(provider.oauth_url(settings.SITE_URL + reverse("selfservice:oauth"), state))
    result_url = reverse("selfservice:result", args=[pk])
    try:
        payment = payment_start(order=order, openid=openid, return_url=result_url, fresh=True)
    except PaymentProviderError as exc:
        if decide("jsapi", exc.code).reaction == Reaction.FINANCE:
            # Our configuration or the merchant account (finance sees the alert with its meaning):
            # nothing the staff member can fix, and no vendor or setting names for them.
            context["error"] = MSG_PAY_NEEDS_OFFICE.format(place=order.campaign.pickup_place)
        else:
            context["error"] = f"{exc.message}（支付平台暂时无法下单，请稍后重试。）"
        return render(request, "selfservice/pay.html", context)
    except CampusPassError as exc:
        messages.error(request, exc.message)
        return redirect("selfservice:order", pk=pk)
    if payment.cashier_url:
        return redirect(payment.cashier_url)
    context.update({"jsapi": payment.params, "result_url": result_url})
    return render(request, "selfservice/pay_jsapi.html", context)


@never_cache
@require_GET
def oauth_callback(request):
    """WeChat OAuth (snsapi_base) comes back here with a code for the openid."""
    saved = request.session.pop(OAUTH_KEY, None)
    if not isinstance(saved, dict) or not secrets.compare_digest(
        str(saved.get("state", "")), request.GET.get("state", "")
    ):
        messages.error(request, "微信授权已失效，请重新点击“立即支付”。")
        return redirect("selfservice:orders")
    try:
        request.session[OPENID_KEY] = get_provider().openid_from_code(request.GET.get("code", ""))
    except PaymentProviderError as exc:
        messages.error(request, f"{exc.message}请重新点击“立即支付”。")
    return redirect(saved["next"])


@never_cache
@require_GET
@order_page
def result(request, pk: int):
    """After payment: the truth from the provider, not from the browser."""
    order = own_order_as_paid(request, pk)
    # Called by the template only where it is shown (not while 支付结果确认中: no deadline read then).
    context = {"order": order, "next_step": lambda: next_step(order)}
    if order.status == S.PENDING_PAYMENT and request.GET.get("cancelled") == "1":
        # The cashier was closed with 取消支付: unpaid, whatever the platform would say.
        context.update(cancelled=True, deadline=timezone.localtime(expires_at(order)))
    elif order.status == S.PENDING_PAYMENT:
        # 支付结果确认中: the page shows itself again until the notification (or a query) has come,
        # for a minute; ?n= counts its own reloads (刷新支付结果 starts again from 0).
        reloads = parse_int(request.GET.get("n")) or 0
        if 0 <= reloads < RESULT_REFRESH_LIMIT:
            context.update(refresh_seconds=RESULT_REFRESH_SECONDS, refresh_next=reloads + 1)
    return render(request, "selfservice/result.html", context)


# --- order records, refunds, fulfilment ---------------------------------------------------------


@never_cache
@require_GET
def orders(request):
    """ "订单记录": this plate's orders with status, amount, time and next step."""
    plate = unlocked_plate(request)
    if plate is None:
        return need_code(request, otp.PURPOSE_ORDERS)
    items = [(order, next_step(order)) for order in orders_for_plate(plate).select_related("staff")]
    return render(request, "selfservice/orders.html", {"plate": plate, "items": items})


@never_cache
@require_GET
@order_page
def order_detail(request, pk: int):
    order = own_order_as_paid(request, pk)
    refund = order_refunds(order).first()
    return render(
        request,
        "selfservice/order.html",
        {
            "order": order,
            "next_step": next_step(order),
            "refund": refund,
            "refund_route": order_refund_route(order),
            "can_change_fulfilment": order.status in RenewalOrder.OPEN_STATUSES and not order.handed_over,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@order_page
def refund(request, pk: int):
    """ "申请退款", "确定" → "退款成功提示" → 退款中 → 已退款."""
    order = own_order(request, pk)
    if request.method == "POST":
        try:
            refund_request(order=order, reason="审核未通过，职工申请退款")
        except CampusPassError as exc:
            messages.error(request, exc.message)
            return redirect("selfservice:order", pk=pk)
        # Redirect, so that the back button or a refresh never posts the request again.
        return redirect("selfservice:refund-done", pk=pk)
    if order.status != S.REJECTED:
        if order.status in (S.REFUNDING, S.REFUNDED):
            return redirect("selfservice:order", pk=pk)
        messages.error(request, "只有“审核未通过”的订单可以申请退款。")
        return redirect("selfservice:order", pk=pk)
    return render(request, "selfservice/refund.html", {"order": order})


@require_POST
@order_page
def fulfilment(request, pk: int):
    """Pickup at the office or delivery to a campus address; changeable until handed out."""
    order = own_order(request, pk)
    try:
        order_set_fulfilment(
            order=order,
            fulfilment=request.POST.get("fulfilment", ""),
            delivery_address=request.POST.get("address", ""),
        )
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "领取方式已保存。")
    return redirect("selfservice:order", pk=pk)


@never_cache
@require_GET
@order_page
def order_photo(request, pk: int):
    order = own_order(request, pk)
    try:
        return documents.view(order.id_photo, plate=unlocked_plate(request), where="selfservice.order")
    except CampusPassError as exc:
        raise Http404("照片已按规定删除") from exc


@never_cache
@require_GET
@order_page
def refund_done(request, pk: int):
    """ "退款成功提示": the request was accepted; the order now shows 退款中 (or already 已退款)."""
    order = own_order(request, pk)
    if order.status not in (S.REFUNDING, S.REFUNDED, S.REFUND_FAILED):
        return redirect("selfservice:order", pk=pk)
    return render(request, "selfservice/refund_done.html", {"order": order})
