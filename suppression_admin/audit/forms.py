from typing import Any

from django import forms

from suppression_admin.audit.identifiers import normalised
from suppression_admin.audit.models import OperationStatus, Provider
from suppression_admin.audit.selectors import EXACT, PREFIX

DATES_REVERSED = "The “from” date is after the “to” date."
NAMES_NOBODY = "This names no email address or LinkedIn identifier."

# An HTML date input posts YYYY-MM-DD whatever the browser's locale shows.
ISO_DATE = "%Y-%m-%d"


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        input_formats=[ISO_DATE],
        widget=forms.DateInput(format=ISO_DATE, attrs={"type": "date", "class": "filter-pick"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


def _text_field(label: str, max_length: int, placeholder: str) -> forms.CharField:
    attrs = {"class": "filter-text", "placeholder": placeholder, "autocomplete": "off"}
    return forms.CharField(
        required=False,
        label=label,
        max_length=max_length,
        widget=forms.TextInput(attrs={**attrs, "type": "search"}),
    )


def _choice_field(label: str, anything: str, choices: list[tuple[str, str]]) -> forms.ChoiceField:
    return forms.ChoiceField(
        required=False,
        label=label,
        choices=[("", anything), *choices],
        widget=forms.Select(attrs={"class": "filter-pick"}),
    )


class AuditFilterForm(forms.Form):
    """The audit list's filters (all optional); ``filters()`` feeds operations_filtered."""

    date_from = _date_field("From (UTC)")
    date_to = _date_field("To (UTC)")
    actor = _text_field("Actor", 150, "username")
    provider = _choice_field("Provider", "Any provider", Provider.choices)
    status = _choice_field("Status", "Any status", OperationStatus.choices)
    identifier = _text_field(
        "Email, LinkedIn identifier or URL, or lead id", 500, "e.g. maria-gonzalez"
    )
    identifier.widget.attrs["data-search"] = ""
    ticket = _text_field("Ticket", 200, "e.g. SUP-1234")
    match = forms.ChoiceField(
        required=False,
        label="Identifier and ticket",
        choices=[(EXACT, "are whole"), (PREFIX, "start with")],
        widget=forms.Select(attrs={"class": "filter-pick"}),
    )
    reason = _text_field("Reason has the words", 200, "e.g. mistake")

    def clean_identifier(self) -> str:
        identifier = self.cleaned_data["identifier"]
        if identifier.strip() and not normalised(identifier):
            raise forms.ValidationError(NAMES_NOBODY)
        return identifier

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", DATES_REVERSED)
        return cleaned

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``operations_filtered``; call only on a valid form."""
        filters = {name: self.cleaned_data[name] for name in self.fields}
        filters["match"] = filters["match"] or EXACT
        return filters

    def errors_text(self) -> str:
        return "; ".join(
            f"{self.fields[name].label if name in self.fields else 'Filters'}: {error}"
            for name, errors in self.errors.items()
            for error in errors
        )


class FindItemForm(forms.Form):
    """The detail page's "find an address in this operation" box."""

    find = _text_field("Find in this operation", 500, "email or LinkedIn identifier")
    match = forms.ChoiceField(
        required=False,
        label="Match",
        choices=[(EXACT, "whole"), (PREFIX, "starts with")],
        widget=forms.Select(attrs={"class": "filter-pick"}),
    )
