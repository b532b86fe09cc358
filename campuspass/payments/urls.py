from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("notify/payment/", views.notify_payment, name="notify_payment"),
    path("notify/refund/", views.notify_refund, name="notify_refund"),
    path("sim/cashier/<str:out_trade_no>/", views.sim_cashier, name="sim_cashier"),
]
