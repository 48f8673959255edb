"""`manage.py seed_demo`: demo users for every role and eight weeks of handoff history; safe to run twice."""
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoff.demo import cast
from handoff.demo.seed import MAX_LEADS, MIN_LEADS, demo_is_seeded, demo_seed
from handoff.demo.stories import DEFAULT_LEADS, DEFAULT_SEED
from handoff.exceptions import DomainError
from handoff.models import Role


class Command(BaseCommand):
    help = (
        f"Create demo users (one per role, password {cast.PASSWORD!r}), two teams, a revised lead definition "
        "and leads in every handoff state. Only prints the logins when the demo is already seeded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--leads", type=int, default=DEFAULT_LEADS,
            help=f"How many leads ({MIN_LEADS}–{MAX_LEADS}; default {DEFAULT_LEADS}).",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED,
            help="Random seed: the same seed tells the same stories (default %(default)s).",
        )

    def handle(self, *args, leads: int, seed: int, **options) -> None:
        if demo_is_seeded():
            self.stdout.write("The demo is already seeded; nothing changed.")
        else:
            try:
                result = demo_seed(leads=leads, seed=seed)
            except DomainError as exc:
                raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
            states = ", ".join(f"{state} {n}" for state, n in sorted(result.states.items()))
            self.stdout.write(self.style.SUCCESS(
                f"Seeded {result.leads} leads, {result.handoffs} handoffs ({states}) and {result.events} events."
            ))
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo logins (every password: {cast.PASSWORD}):")
        for person in cast.LOGINS:
            role = Role(person.role).label if person.role else "Admin (superuser)"
            team = f", team {person.team}" if person.team else ""
            self.stdout.write(f"  {person.username:<8} {cast.PASSWORD}   {role}{team}")
