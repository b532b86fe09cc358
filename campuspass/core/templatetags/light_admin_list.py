"""``{% light_result_list cl %}``: Django's ``{% result_list cl %}`` with the rows drawn by
core.changelists.light_result_list (the same HTML, fewer steps per cell; issue 13).
``{% light_date_hierarchy cl %}``: Django's ``{% date_hierarchy cl %}``, read from the page's rows
when they are the whole result (core.changelists.light_date_hierarchy)."""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from campuspass.core.changelists import light_date_hierarchy, light_result_list

register = template.Library()


@register.tag(name="light_result_list")
def light_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=light_result_list, template_name="change_list_results.html", takes_context=False
    )


@register.tag(name="light_date_hierarchy")
def light_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=light_date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )
