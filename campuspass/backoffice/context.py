"""Template context for the back office: the navigation this user may see."""

from django.urls import NoReverseMatch, reverse

from .roles import can, roles_of

NAV = [
    ("dashboard", "backoffice:dashboard", "概览"),
    ("review", "backoffice:review", "审核"),
    ("counter", "backoffice:counter", "窗口领取"),
    ("delivery", "backoffice:delivery", "送证上门"),
    ("refunds", "backoffice:refunds", "退款管理"),
    ("reconcile", "backoffice:reconcile", "对账"),
    ("onsite", "backoffice:onsite", "现场办理"),
    ("exports", "backoffice:exports", "导出"),
    ("gates", "backoffice:gates", "道闸同步"),
    ("import", "backoffice:import", "导入"),
    ("settings", "backoffice:settings", "设置"),
    ("audit", "backoffice:audit", "审计日志"),
]


def backoffice(request):
    if not request.path.startswith("/office/") or not request.user.is_authenticated:
        return {}
    items = []
    for screen, name, label in NAV:
        if not can(request.user, screen):
            continue
        try:
            items.append({"screen": screen, "url": reverse(name), "label": label})
        except NoReverseMatch:  # a screen not built yet
            continue
    return {"bo_nav": items, "bo_roles": sorted(roles_of(request.user))}
