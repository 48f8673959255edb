"""Issue 14: one source of truth for where and when a person works (their calendar), lead phone numbers, "touches".

`RepProfile.time_zone` goes: a person's zone is their calendar's (own, else team's, else the default). Before it
goes, a person whose stated zone differs from the calendar their clocks ran by, and who has no calendar of their
own, gets a copy of that calendar in their zone (same weekly hours, holidays and closures), so nobody's
working hours move from their zone to another on upgrade. A person with a calendar of their own keeps it: it was
already the one that counted.
"""

import django.db.models.deletion
from django.db import migrations, models

WEEKLY = [[["09:00", "17:00"]] for _ in range(5)] + [[], []]


def calendars_in_peoples_zones(apps, schema_editor):
    BusinessCalendar = apps.get_model("handoff", "BusinessCalendar")
    CalendarDay = apps.get_model("handoff", "CalendarDay")
    RepProfile = apps.get_model("handoff", "RepProfile")
    default = BusinessCalendar.objects.filter(is_default=True).first()
    copies = {}
    for profile in RepProfile.objects.filter(calendar__isnull=True).select_related("team__calendar"):
        base = (profile.team.calendar if profile.team_id else None) or default
        zone = profile.time_zone or "UTC"
        if base is not None and base.time_zone == zone:
            continue
        key = (base.pk if base else None, zone)
        if key not in copies:
            name = f"{base.name if base else 'Mon–Fri 9–17'} · {zone}"[:100]
            copy, created = BusinessCalendar.objects.get_or_create(
                name=name,
                defaults={
                    "time_zone": zone,
                    "weekly_hours": base.weekly_hours if base else WEEKLY,
                    "holiday_country": base.holiday_country if base else "",
                    "holiday_subdivision": base.holiday_subdivision if base else "",
                },
            )
            if created and base is not None:
                CalendarDay.objects.bulk_create(
                    CalendarDay(calendar=copy, date=day.date, hours=day.hours, note=day.note)
                    for day in CalendarDay.objects.filter(calendar=base)
                )
            copies[key] = copy
        profile.calendar = copies[key]
        profile.save(update_fields=["calendar"])


def zones_from_calendars(apps, schema_editor):
    BusinessCalendar = apps.get_model("handoff", "BusinessCalendar")
    RepProfile = apps.get_model("handoff", "RepProfile")
    default = BusinessCalendar.objects.filter(is_default=True).first()
    for profile in RepProfile.objects.select_related("calendar", "team__calendar"):
        calendar = profile.calendar or (profile.team.calendar if profile.team_id else None) or default
        if calendar is not None:
            profile.time_zone = calendar.time_zone
            profile.save(update_fields=["time_zone"])


class Migration(migrations.Migration):
    dependencies = [("handoff", "0012_read_path")]

    operations = [
        migrations.RunPython(calendars_in_peoples_zones, migrations.RunPython.noop),
        migrations.RunPython(migrations.RunPython.noop, zones_from_calendars),
        migrations.RemoveField(model_name="repprofile", name="time_zone"),
        migrations.AlterField(
            model_name="repprofile",
            name="calendar",
            field=models.ForeignKey(
                blank=True,
                help_text="The hours and time zone this person works in (SLA clocks, digests, the times pages show); "
                "empty: the team's calendar, else the default.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reps",
                to="handoff.businesscalendar",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="calendar",
            field=models.ForeignKey(
                blank=True,
                help_text="The hours and time zone the team works in (its members' SLA clocks); empty: the default "
                "calendar.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="teams",
                to="handoff.businesscalendar",
            ),
        ),
        migrations.AddField(
            model_name="lead",
            name="phone",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="lead",
            name="mobile_phone",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AlterModelOptions(
            name="touch",
            options={"ordering": ["-at", "-id"], "verbose_name_plural": "touches"},
        ),
    ]
