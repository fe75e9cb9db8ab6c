from django import forms
from django.core.validators import RegexValidator

from suppression_admin.walead.services import REASON_REQUIRED

OPT_OUT_ACK_REQUIRED = (
    "Some of these people asked not to be contacted. Tick the box to confirm that unblocking "
    "them is allowed (for example, they asked to hear from us again)."
)


class BrowseForm(forms.Form):
    sort = forms.ChoiceField(
        required=False, choices=[("DESC", "Newest first"), ("ASC", "Oldest first")]
    )
    offset = forms.IntegerField(required=False, min_value=0, max_value=10_000_000)
    hide_opt_outs = forms.BooleanField(required=False)

    def values(self) -> tuple[str, str, int]:
        """Search, sort and offset; a bad sort or offset falls back to the default.

        The search is as typed: walead.search reads it, and says in words what it cannot
        read (a form field would drop it, and show unfiltered rows under the search box)."""
        search = str(self.data.get("search", "")).strip()
        return search, self._clean("sort") or "DESC", self._clean("offset") or 0

    def hides_opt_outs(self) -> bool:
        """Whether the people who asked not to be contacted are left out of the list."""
        return bool(self._clean("hide_opt_outs"))

    def _clean(self, name: str):
        self.is_valid()
        return self.cleaned_data.get(name)


class UnblockForm(forms.Form):
    lead = forms.MultipleChoiceField(error_messages={"required": "Nothing to unblock."})
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REASON_REQUIRED},
    )
    ticket = forms.CharField(required=False, max_length=200, label="Ticket or reference")
    token = forms.CharField(
        widget=forms.HiddenInput,
        validators=[RegexValidator(r"^[0-9a-f]{32}$", "This confirmation form is not valid.")],
    )
    retry_of = forms.IntegerField(required=False, widget=forms.HiddenInput)
    acknowledge_opt_out = forms.BooleanField(
        required=False, label="I confirm these people may be contacted again."
    )

    def __init__(self, *args, lead_ids: list[str], needs_ack: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].choices = [(lead_id, lead_id) for lead_id in lead_ids]
        self.needs_ack = needs_ack

    def clean(self):
        cleaned = super().clean()
        if self.needs_ack and not cleaned.get("acknowledge_opt_out"):
            self.add_error("acknowledge_opt_out", OPT_OUT_ACK_REQUIRED)
        return cleaned
