"""Admin forms for the catalogue."""

from django import forms

from opply.limits import MAX_INT


class StockAdjustForm(forms.Form):
    """A signed change of stock with the reason an operator gives for it."""

    delta = forms.IntegerField(
        label="Change",
        help_text="Signed: 5 adds five units, -3 takes three away.",
        min_value=-MAX_INT,
        max_value=MAX_INT,
    )
    note = forms.CharField(
        label="Note",
        max_length=255,
        help_text="Why the stock changes (stock count, damaged goods, delivery...).",
    )

    def clean_delta(self) -> int:
        delta: int = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("Enter a non-zero change.")
        return delta

    def clean_note(self) -> str:
        note: str = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say why the stock changes.")
        return note
