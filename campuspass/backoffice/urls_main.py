"""Sign-in, dashboard and review (same `backoffice` namespace as the other URL modules)."""

from django.urls import path

from . import views_auth, views_dashboard, views_review

urlpatterns = [
    path("login/", views_auth.login_view, name="login"),
    path("logout/", views_auth.logout_view, name="logout"),
    path("password/", views_auth.password_change, name="password_change"),
    path("otp/", views_auth.otp, name="otp"),
    path("", views_dashboard.dashboard, name="dashboard"),
    path("review/", views_review.queue, name="review"),
    path("review/next/", views_review.next_order, name="review-next"),
    path("review/<int:pk>/", views_review.order_detail, name="review-order"),
    path("review/<int:pk>/approve/", views_review.approve, name="review-approve"),
    path("review/<int:pk>/reject/", views_review.reject, name="review-reject"),
    path("review/<int:pk>/release/", views_review.release, name="review-release"),
    path("orders/<int:pk>/photo/", views_review.order_photo, name="order-photo"),
]
