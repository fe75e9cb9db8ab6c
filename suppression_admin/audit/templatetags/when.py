"""``{{ moment|when }}``: a time as the page shows it — in UTC from the server, turned into the
viewer's own time zone by app.js, with the UTC time kept on hover."""

from datetime import UTC, datetime

from django import template
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value: datetime | None, fmt: str = "Y-m-d H:i") -> str:
    if value is None:
        return ""
    utc = value.astimezone(UTC)
    text = f"{date_format(utc, fmt)} UTC"
    return format_html(
        '<time datetime="{}" title="{}" data-local>{}</time>', utc.isoformat(), text, text
    )
