"""`manage.py seed_demo`: demo users for every role and eight weeks of handoff history; safe to run twice."""
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoff import demo
from handoff.exceptions import DomainError


class Command(BaseCommand):
    help = (
        f"Create demo users (one per role, password {demo.DEMO_PASSWORD!r}), two teams, a revised lead definition "
        "and leads in every handoff state. Only prints the logins when the demo is already seeded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--leads", type=int, default=demo.DEFAULT_LEADS,
            help=f"How many leads ({demo.MIN_LEADS}–{demo.MAX_LEADS}; default {demo.DEFAULT_LEADS}).",
        )
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED,
            help="Random seed: the same seed tells the same stories (default %(default)s).",
        )

    def handle(self, *args, leads: int, seed: int, **options) -> None:
        if demo.demo_is_seeded():
            self.stdout.write("The demo is already seeded; nothing changed.")
        else:
            try:
                result = demo.demo_seed(leads=leads, seed=seed)
            except DomainError as exc:
                raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
            states = ", ".join(f"{state} {n}" for state, n in sorted(result.states.items()))
            self.stdout.write(self.style.SUCCESS(
                f"Seeded {result.leads} leads, {result.handoffs} handoffs ({states}) and {result.events} events."
            ))
        self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write(f"\nDemo logins (every password: {demo.DEMO_PASSWORD}):")
        for user in demo.demo_logins():
            team = f", team {user.team}" if user.team else ""
            self.stdout.write(f"  {user.username:<8} {demo.DEMO_PASSWORD}   {user.role_label}{team}")
