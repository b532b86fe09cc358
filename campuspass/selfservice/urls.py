from django.urls import path

from . import views

app_name = "selfservice"
urlpatterns = [
    path("", views.home, name="home"),
    path("pass/", views.menu, name="menu"),
    path("lookup/", views.lookup, name="lookup"),
    path("verify/", views.verify, name="verify"),
    path("record/", views.record, name="record"),
    path("renew/", views.renew, name="renew"),
    path("renew/owner/", views.owner, name="owner"),
    path("renew/photo/", views.photo, name="photo"),
    path("renew/photo/view/", views.pending_photo, name="pending-photo"),
    path("renew/confirm/", views.confirm, name="confirm"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/consent/", views.consent, name="consent"),
    path("orders/<int:pk>/pay/", views.pay, name="pay"),
    path("orders/<int:pk>/result/", views.result, name="result"),
    path("orders/<int:pk>/refund/", views.refund, name="refund"),
    path("orders/<int:pk>/refund/done/", views.refund_done, name="refund-done"),
    path("orders/<int:pk>/fulfilment/", views.fulfilment, name="fulfilment"),
    path("orders/<int:pk>/photo/", views.order_photo, name="order-photo"),
    path("logout/", views.logout, name="logout"),
    path("oauth/", views.oauth_callback, name="oauth"),
]
