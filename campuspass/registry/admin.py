"""The registry in the Django admin, in Chinese: staff, vehicles, passes and import jobs, plus the
import (upload → preview → confirm) and export screens.

- Search finds a plate in any spelling (京A·12345, 京 a12345, full-width) and a phone number in any
  spelling (+86 138-1234-5678): the term is normalised with the core helpers before searching.
- Lists show phones masked (138****5678); the full number is shown on the staff change form only,
  and every such view is written to the audit log (core.phone.viewed).
- Every save and delete goes through services.py, so it is validated like the import and audited.
"""

from __future__ import annotations

import tempfile

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Max, Min, Q
from django.http import FileResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from campuspass.core.changelists import LightRowsMixin
from campuspass.core.errors import CampusPassError, FieldError
from campuspass.core.paging import CappedPaginator, matching
from campuspass.core.phones import mask_phone

from . import fields, services
from .columns import HEADERS, OPTIONAL, REQUIRED
from .exports import export_file_name, export_passes
from .models import ImportJob, Pass, Staff, Vehicle
from .selectors import Query, plate_vehicles, staff_ids
from .tasks import confirm_import, get_progress, import_job_create
from .uploads import ImportUploadForm

ACTIVE_STATES = {
    ImportJob.State.UPLOADED,
    ImportJob.State.PREVIEWING,
    ImportJob.State.CONFIRMED,
    ImportJob.State.IMPORTING,
}


# --- search ----------------------------------------------------------------------------------------


def pass_years() -> list[int]:
    """The years from the largest to the smallest on file: two index reads (the year leads the unique
    (year, number) index), not a DISTINCT over every pass (1,275,000 at full size)."""
    bounds = Pass.objects.aggregate(low=Min("year"), high=Max("year"))
    if bounds["low"] is None:
        return []
    return list(range(bounds["high"], bounds["low"] - 1, -1))


class YearFilter(admin.SimpleListFilter):
    """年度 from the smallest to the largest year on file: two index reads (the year leads the
    unique (year, number) index), not Django's DISTINCT over every pass."""

    title = "年度"
    parameter_name = "year"

    def lookups(self, request, model_admin):
        return [(str(y), f"{y} 年度") for y in pass_years()]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(year=int(value)) if value and value.isdecimal() else queryset


class VehicleTypeFilter(admin.SimpleListFilter):
    """车辆类型: the distinct types are read at most every 10 minutes (a scan of every vehicle),
    not on every page of the list."""

    title = "车辆类型"
    parameter_name = "vehicle_type"

    def lookups(self, request, model_admin):
        key = "campuspass:admin:vehicle-types"
        types = cache.get(key)
        if types is None:
            types = list(
                Vehicle.objects.exclude(vehicle_type="")
                .order_by("vehicle_type")
                .values_list("vehicle_type", flat=True)
                .distinct()[:200]
            )
            cache.set(key, types, 600)
        return [(t, t) for t in types]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(vehicle_type=value) if value else queryset


class NormalisedSearchMixin:
    """The admin's search box answered by the registry's one reading of a query (``Query``) through
    separate indexed lookups (``staff_ids`` and each model's own exact/part lookups, decision 0038),
    instead of Django's ``UPPER(col) LIKE '%q%'`` over joins of million-row tables. No full counts:
    ``show_full_result_count`` off and the capped paginator."""

    show_full_result_count = False
    paginator = CappedPaginator

    def search_condition(self, query: Query, people: list[int], vehicles: list[int]) -> Q:  # pragma: no cover
        raise NotImplementedError

    def get_search_results(self, request, queryset, search_term):
        query = Query.read(search_term)
        if not query.text:
            return queryset, False
        vehicles = plate_vehicles(query, limit=SEARCH_LIMIT)  # read once: owners and rows alike
        people = staff_ids(query, limit=SEARCH_LIMIT, vehicles=vehicles)
        return matching(queryset, self.search_condition(query, people, [pk for pk, _ in vehicles])), False


SEARCH_LIMIT = 200


def _masked(mobile: str) -> str:
    return mask_phone(mobile)


# --- forms: every field through its rule (fields.py), the import's and the services' -------------------


class StaffForm(forms.ModelForm):
    staff_no = fields.form_field("staff_no")
    name = fields.form_field("name")
    department = fields.form_field("department")
    mobile = fields.form_field("mobile", help_text="11 位手机号；可带 +86、空格或连字符。")

    class Meta:
        model = Staff
        fields = ["staff_no", "name", "department", "mobile", "status"]

    clean_staff_no = fields.form_clean("staff_no")
    clean_name = fields.form_clean("name")
    clean_department = fields.form_clean("department")
    clean_mobile = fields.form_clean("mobile")


class VehicleForm(forms.ModelForm):
    plate = fields.form_field("plate", help_text="如 京A12345；空格、点、全角字符会自动规范。")
    vehicle_type = fields.form_field("vehicle_type")
    brand_model = fields.form_field("brand_model")
    color = fields.form_field("color")

    class Meta:
        model = Vehicle
        fields = ["plate", "owner", "vehicle_type", "brand_model", "color"]

    clean_plate = fields.form_clean("plate")
    clean_vehicle_type = fields.form_clean("vehicle_type")
    clean_brand_model = fields.form_clean("brand_model")
    clean_color = fields.form_clean("color")


class PassForm(forms.ModelForm):
    year = fields.form_field("year")
    number = fields.form_field("number")
    valid_from = fields.form_field("valid_from", widget=AdminDateWidget())
    valid_to = fields.form_field("valid_to", widget=AdminDateWidget())

    class Meta:
        model = Pass
        fields = ["year", "number", "vehicle", "holder", "review_status", "valid_from", "valid_to", "source"]

    clean_year = fields.form_clean("year")
    clean_number = fields.form_clean("number")
    clean_valid_from = fields.form_clean("valid_from")
    clean_valid_to = fields.form_clean("valid_to")

    def clean(self):
        data = super().clean()
        try:
            fields.check_validity(data.get("valid_from"), data.get("valid_to"))
        except FieldError as exc:
            self.add_error(exc.field, exc.message)
        return data


# --- shared admin behaviour ----------------------------------------------------------------------------


class ServiceAdmin(LightRowsMixin, NormalisedSearchMixin, admin.ModelAdmin):
    """Saves through services.py; a refused save or delete is a Chinese message, never a 500."""

    service_fields: tuple[str, ...] = ()
    list_per_page = 50

    def create(self, request, values):  # pragma: no cover - overridden
        raise NotImplementedError

    def update(self, request, obj, values):  # pragma: no cover - overridden
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in self.service_fields if name in form.cleaned_data}
        if change:
            saved = self.update(request, type(obj).objects.get(pk=obj.pk), values)
        else:
            saved = self.create(request, values)
        obj.pk = saved.pk
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CampusPassError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request, obj):
        services.record_delete(obj=obj, acting_user=request.user, reason="后台删除")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.record_delete(obj=obj, acting_user=request.user, reason="后台批量删除")

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except CampusPassError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except CampusPassError as exc:  # the bulk delete action
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# --- staff ---------------------------------------------------------------------------------------------


@admin.register(Staff)
class StaffAdmin(ServiceAdmin):
    form = StaffForm
    service_fields = ("staff_no", "name", "department", "mobile", "status")
    list_display = ("staff_no", "name", "department", "masked_mobile", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("staff_no", "name")  # read by NormalisedSearchMixin (plate, phone, pass number too)
    readonly_fields = ("created_at", "updated_at")

    def search_condition(self, query, people, vehicles):
        return Q(pk__any=people)

    @admin.display(description="手机号")
    def masked_mobile(self, obj):
        return _masked(obj.mobile)

    def get_readonly_fields(self, request, obj=None):
        # The staff number is the person's identity: fixed once created.
        return (*self.readonly_fields, "staff_no") if obj else self.readonly_fields

    def create(self, request, values):
        return services.staff_create(acting_user=request.user, reason="后台新增", **values)

    def update(self, request, obj, values):
        values.pop("staff_no", None)
        return services.staff_update(staff=obj, acting_user=request.user, reason="后台修改", **values)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            staff = self.get_object(request, object_id)
            if staff is not None:
                services.reveal_phone(staff=staff, acting_user=request.user, where="admin.staff.change")
        return response


# --- vehicles --------------------------------------------------------------------------------------------


@admin.register(Vehicle)
class VehicleAdmin(ServiceAdmin):
    form = VehicleForm
    service_fields = ("plate", "owner", "vehicle_type", "brand_model", "color")
    list_display = (
        "plate",
        "owner_name",
        "owner_staff_no",
        "owner_mobile",
        "vehicle_type",
        "brand_model",
        "color",
    )
    list_select_related = ("owner",)
    list_filter = (VehicleTypeFilter,)
    search_fields = ("plate", "owner__name", "owner__staff_no")  # read by NormalisedSearchMixin

    def search_condition(self, query, people, vehicles):
        return Q(pk__any=vehicles) | Q(owner_id__any=people)

    autocomplete_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="车主", ordering="owner__name")
    def owner_name(self, obj):
        return obj.owner.name

    @admin.display(description="工号", ordering="owner__staff_no")
    def owner_staff_no(self, obj):
        return obj.owner.staff_no

    @admin.display(description="车主手机号")
    def owner_mobile(self, obj):
        return _masked(obj.owner.mobile)

    def create(self, request, values):
        return services.vehicle_create(acting_user=request.user, reason="后台新增", **values)

    def update(self, request, obj, values):
        return services.vehicle_update(vehicle=obj, acting_user=request.user, reason="后台修改", **values)


# --- passes, with the import and export screens ----------------------------------------------------------


class ExportForm(forms.Form):
    year = forms.TypedChoiceField(label="年度", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, years=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "全部年度"), *((y, f"{y} 年度") for y in years)]


@admin.register(Pass)
class PassAdmin(ServiceAdmin):
    form = PassForm
    service_fields = (
        "year",
        "number",
        "vehicle",
        "holder",
        "review_status",
        "valid_from",
        "valid_to",
        "source",
    )
    list_display = (
        "number",
        "year",
        "plate",
        "holder_name",
        "holder_staff_no",
        "holder_mobile",
        "review_status",
        "valid_from",
        "valid_to",
        "source",
    )
    list_select_related = ("vehicle", "holder")
    list_filter = (YearFilter, "review_status", "source")
    search_fields = ("number", "vehicle__plate", "holder__name", "holder__staff_no")  # NormalisedSearchMixin

    def search_condition(self, query, people, vehicles):
        number = "".join(query.text.split())
        return Q(number__iexact=number) | Q(vehicle_id__any=vehicles) | Q(holder_id__any=people)

    autocomplete_fields = ("vehicle", "holder")
    readonly_fields = ("created_at", "updated_at")
    change_list_template = "admin/registry/pass/change_list.html"

    @admin.display(description="车牌号", ordering="vehicle__plate")
    def plate(self, obj):
        return obj.vehicle.plate

    @admin.display(description="持证人", ordering="holder__name")
    def holder_name(self, obj):
        return obj.holder.name

    @admin.display(description="工号", ordering="holder__staff_no")
    def holder_staff_no(self, obj):
        return obj.holder.staff_no

    @admin.display(description="手机号")
    def holder_mobile(self, obj):
        return _masked(obj.holder.mobile)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("source", Pass.Source.ADMIN)
        return initial

    def create(self, request, values):
        return services.pass_create(acting_user=request.user, reason="后台新增", **values)

    def update(self, request, obj, values):
        return services.pass_update(permit=obj, acting_user=request.user, reason="后台修改", **values)

    # --- import / export views ---

    def get_urls(self):
        def wrap(view, permission):
            def guarded(request, *args, **kwargs):
                if not request.user.has_perm(permission):
                    raise PermissionDenied
                return view(request, *args, **kwargs)

            return self.admin_site.admin_view(guarded)

        custom = [
            path("import/", wrap(self.import_view, "registry.add_pass"), name="registry_pass_import"),
            path(
                "import/<uuid:job_id>/",
                wrap(self.import_job_view, "registry.add_pass"),
                name="registry_pass_import_job",
            ),
            path(
                "import/<uuid:job_id>/status/",
                wrap(self.import_status_view, "registry.add_pass"),
                name="registry_pass_import_status",
            ),
            path(
                "import/<uuid:job_id>/confirm/",
                wrap(require_POST(self.import_confirm_view), "registry.add_pass"),
                name="registry_pass_import_confirm",
            ),
            path("export/", wrap(self.export_view, "registry.view_pass"), name="registry_pass_export"),
        ]
        return custom + super().get_urls()

    def _context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def import_view(self, request):
        if request.method == "POST":
            form = ImportUploadForm(request.POST, request.FILES)
            if form.is_valid():
                job = import_job_create(
                    upload=form.cleaned_data["file"], year=form.cleaned_data["year"], acting_user=request.user
                )
                return HttpResponseRedirect(reverse("admin:registry_pass_import_job", args=[job.pk]))
        else:
            form = ImportUploadForm()
        recent = ImportJob.objects.select_related("created_by")[:10]
        context = self._context(
            request,
            "导入上年度通行证",
            form=form,
            recent_jobs=recent,
            required_columns=REQUIRED,
            optional_columns=OPTIONAL,
            max_mb=settings.IMPORT_MAX_UPLOAD_BYTES // 1048576,
        )
        return TemplateResponse(request, "admin/registry/pass/import_form.html", context)

    @staticmethod
    def _status(job: ImportJob) -> dict:
        progress = get_progress(job.pk) or {}
        done, total = progress.get("done", 0), progress.get("total")
        percent = min(100, int(done * 100 / total)) if total else None
        return {
            "state": job.state,
            "state_label": job.get_state_display(),
            "running": job.state in ACTIVE_STATES,
            "done": done,
            "total": total,
            "percent": percent,
        }

    def import_job_view(self, request, job_id):
        job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)
        result = job.report if job.state == ImportJob.State.DONE else job.preview
        context = self._context(
            request,
            f"导入：{job.file_name}",
            job=job,
            status=self._status(job),
            result=result,
            is_preview=job.state != ImportJob.State.DONE,
            can_confirm=job.state == ImportJob.State.PREVIEWED,
            status_url=reverse("admin:registry_pass_import_status", args=[job.pk]),
            confirm_url=reverse("admin:registry_pass_import_confirm", args=[job.pk]),
            import_url=reverse("admin:registry_pass_import"),
        )
        return TemplateResponse(request, "admin/registry/pass/import_job.html", context)

    def import_status_view(self, request, job_id):
        job = get_object_or_404(ImportJob, pk=job_id)
        return JsonResponse(self._status(job))

    def import_confirm_view(self, request, job_id):
        job = get_object_or_404(ImportJob, pk=job_id)
        try:
            confirmed = confirm_import(
                job, acting_user=request.user, moves_confirmed=request.POST.get("confirm_moves") == "1"
            )
        except CampusPassError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            if not confirmed:
                self.message_user(
                    request, "这个导入任务已经确认过或无法导入，没有重复执行。", messages.WARNING
                )
        return HttpResponseRedirect(reverse("admin:registry_pass_import_job", args=[job.pk]))

    def export_view(self, request):
        years = pass_years()
        form = ExportForm(request.GET or None, years=years)
        if request.GET and form.is_valid():
            year = form.cleaned_data["year"]
            handle = tempfile.TemporaryFile(prefix="campuspass-export-")  # noqa: SIM115 - FileResponse closes it
            export_passes(year=year, stream=handle, acting_user=request.user, reason="后台导出")
            handle.seek(0)
            return FileResponse(
                handle,
                as_attachment=True,
                filename=export_file_name(year),
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        context = self._context(request, "导出通行证登记表", form=form, headers=HEADERS)
        return TemplateResponse(request, "admin/registry/pass/export_form.html", context)


# --- import jobs ------------------------------------------------------------------------------------------


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "file_name",
        "state",
        "year",
        "size",
        "created_by",
        "created_at",
        "finished_at",
        "open_link",
    )
    list_filter = ("state",)
    search_fields = ("file_name", "file_sha256")
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name not in ("preview", "report")]
    exclude = ("preview", "report")

    @admin.display(description="详情")
    def open_link(self, obj):
        return format_html('<a href="{}">查看</a>', reverse("admin:registry_pass_import_job", args=[obj.pk]))

    def has_add_permission(self, request):
        return False  # jobs are created by uploading a file on the import screen

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
