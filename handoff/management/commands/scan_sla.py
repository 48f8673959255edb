"""Run the SLA breach and reminder scan once, by hand, and print what it flagged."""
from django.core.management.base import BaseCommand

from handoff.models import Milestone
from handoff.models.sla import NotificationKind
from handoff.services.notifications import notifications_send
from handoff.services.sla import SCAN_BATCH, sla_scan


class Command(BaseCommand):
    help = "Flag SLA clocks past their due or reminder time (with their notices) and print them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=SCAN_BATCH, help="Milestones per batch.")
        parser.add_argument("--send", action="store_true", help="Also deliver the notifications now, in this process.")

    def handle(self, *args, limit: int, send: bool, **options) -> None:
        for kind in (NotificationKind.BREACH, NotificationKind.REMINDER):
            flagged, requeued, recycled = [], 0, 0
            while True:
                result = sla_scan(kind=kind, limit=limit)
                flagged += result.flagged
                requeued += len(result.requeued)
                recycled += len(result.recycled)
                if result.count < limit:
                    break
            label = "breached" if kind == NotificationKind.BREACH else "due a reminder"
            self.stdout.write(f"{len(flagged)} milestone(s) {label}")
            if requeued or recycled:
                self.stdout.write(f"escalation: {requeued} handoff(s) back to the queue, {recycled} recycled")
            clocks = Milestone.objects.select_related("handoff__lead", "handoff__owner").in_bulk(
                [pk for pk, _, _ in flagged[:50]]
            )
            for pk, _, _ in flagged[:50]:
                m = clocks[pk]
                owner = m.handoff.owner.get_username() if m.handoff.owner else "queue"
                self.stdout.write(
                    f"  {m.get_kind_display():<20} {m.handoff.lead} ({owner}) due {m.due_at.isoformat()}"
                )
            if len(flagged) > 50:
                self.stdout.write(f"  … and {len(flagged) - 50} more")
        if send:
            result = notifications_send()
            self.stdout.write(f"notices: {result.sent} sent, {result.retrying} to retry, {result.failed} failed")
