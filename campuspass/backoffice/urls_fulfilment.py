"""Counter, delivery, refunds and exports (names share the `backoffice:` namespace)."""

from django.urls import path

from . import views_counter, views_delivery, views_exports, views_reconcile, views_refunds

urlpatterns = [
    # 窗口领取
    path("counter/", views_counter.counter, name="counter"),
    path("counter/pending/", views_counter.pending, name="counter-pending"),
    path("counter/<int:pk>/hand-out/", views_counter.hand_out, name="counter-hand-out"),
    path("counter/<int:pk>/slip/", views_counter.slip, name="counter-slip"),
    path("orders/<int:pk>/phone/", views_counter.full_phone, name="order-full-phone"),
    # 送证上门
    path("delivery/", views_delivery.delivery, name="delivery"),
    path("delivery/assign/", views_delivery.assign, name="delivery-assign"),
    path("delivery/<int:pk>/delivered/", views_delivery.delivered, name="delivery-delivered"),
    path("delivery/print/", views_delivery.print_list, name="delivery-print"),
    path("reconcile/", views_reconcile.index, name="reconcile"),
    path("reconcile/<str:day>/", views_reconcile.day, name="reconcile-day"),
    path("delivery/claim/", views_delivery.claim, name="delivery-claim"),
    path("delivery/<int:pk>/failed/", views_delivery.failed, name="delivery-failed"),
    # 退款管理
    path("refunds/", views_refunds.refunds, name="refunds"),
    path("refunds/orders/<int:pk>/retry/", views_refunds.retry, name="refunds-retry"),
    path("refunds/orders/<int:pk>/request/", views_refunds.request_for_staff, name="refunds-request"),
    path("refunds/orders/<int:pk>/counter/", views_refunds.refund_counter, name="refunds-counter"),
    path("refunds/<int:pk>/sync/", views_refunds.sync, name="refunds-sync"),
    path("refunds/<int:pk>/pay-out/", views_refunds.pay_out, name="refunds-pay-out"),
    path("refunds/alerts/<int:pk>/handled/", views_refunds.alert_done, name="refunds-alert-handled"),
    path("refunds/alerts/<int:pk>/retry/", views_refunds.alert_again, name="refunds-alert-retry"),
    path("refunds/payments/<int:pk>/refund/", views_refunds.refund_unclaimed, name="refunds-payment"),
    # 导出
    path("exports/", views_exports.exports, name="exports"),
    path("exports/<slug:kind>.xlsx", views_exports.download, name="exports-download"),
    path("exports/<slug:kind>.csv", views_exports.download, {"fmt": "csv"}, name="exports-download-csv"),
]
