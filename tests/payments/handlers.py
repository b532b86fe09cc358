"""Notification handlers the tests point PAYMENT_/REFUND_NOTIFICATION_HANDLER at."""

CALLS: list = []
FAIL_NEXT: list = []


def record(notification):
    if FAIL_NEXT:
        FAIL_NEXT.pop()
        raise RuntimeError("order service unavailable")
    CALLS.append(notification)
    return f"applied {notification.event_type}"
