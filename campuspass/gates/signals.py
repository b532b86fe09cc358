"""The thin hooks (decision 0027): a change to a pass, a vehicle, a renewal order or a pass's gate
groups nudges the sync engine with the plate(s) concerned, after commit. Bulk writes of the registry
import bypass signals; sync.refresh_changed() catches them every minute from the rows' updated_at,
and the nightly full comparison catches anything else."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from campuspass.registry.models import Pass, Vehicle
from campuspass.renewals.models import RenewalOrder

from .models import GateGroup
from .sync import plate_changed


@receiver(pre_save, sender=Vehicle)
def _remember_old_plate(sender, instance, **kwargs):
    if instance.pk:
        instance._gates_old_plate = (
            Vehicle.objects.filter(pk=instance.pk).values_list("plate", flat=True).first()
        )


@receiver(post_save, sender=Vehicle)
def _vehicle_saved(sender, instance, **kwargs):
    plate_changed(instance.plate, getattr(instance, "_gates_old_plate", None) or "")


@receiver(post_save, sender=Pass)
def _pass_saved(sender, instance, **kwargs):
    plate_changed(
        Vehicle.objects.filter(pk=instance.vehicle_id).values_list("plate", flat=True).first() or ""
    )


@receiver(post_save, sender=RenewalOrder)
def _order_saved(sender, instance, update_fields=None, **kwargs):
    # An order bears on a gate only through the pass it issued (a refunded order's pass no longer
    # opens one): created, consent given, paid, closed or rejected orders have none, and asking the
    # task worker to refresh their plates cost three tasks per renewal (issue 13's flow benchmark).
    pass_link_changed = update_fields is not None and "new_pass" in update_fields
    issued_pass_moved = instance.new_pass_id and (update_fields is None or "status" in update_fields)
    if pass_link_changed or issued_pass_moved:
        plate_changed(instance.plate)


@receiver(m2m_changed, sender=GateGroup.passes.through)
def _scope_changed(sender, instance, action, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if isinstance(instance, Pass):
        plate_changed(instance.vehicle.plate)
    else:
        passes = Pass.objects.filter(pk__in=pk_set or []) if pk_set else instance.passes.all()
        plate_changed(*passes.values_list("vehicle__plate", flat=True))
