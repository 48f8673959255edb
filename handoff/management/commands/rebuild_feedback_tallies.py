"""Count the lead quality tallies again from the feedback requests (a repair, or after loading rows by hand)."""
from django.core.management.base import BaseCommand

from handoff.services.feedback import feedback_tallies_rebuild


class Command(BaseCommand):
    help = (
        "Recount the lead quality tallies (per day handed over, lead source, segment and definition) from the "
        "feedback requests and their feedback. The services keep them as they go; this is for repairs."
    )

    def handle(self, *args, **options) -> None:
        groups, reasons = feedback_tallies_rebuild()
        self.stdout.write(self.style.SUCCESS(f"Recounted {groups} request tallies and {reasons} reason tallies."))
