"""Admin forms for the catalogue."""

from typing import Any

from django import forms

from opply.limits import MAX_INT
from products.models import WRITABLE_FIELDS, Product


class ProductAdminForm(forms.ModelForm):
    """The product page, refusing to save over a change made since it was opened. The admin
    saves inside one transaction: `clean` locks the row and compares versions, and the lock
    holds until the save (products.services.product_update) is done, so nothing slips in."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Product
        fields = list(WRITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("loaded_version", self.instance.version)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.instance.pk is None:
            return cleaned
        current = (
            Product.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if current is not None and cleaned.get("loaded_version") != current:
            raise forms.ValidationError(
                "This product was changed by someone else since you opened it (now version "
                f"{current}). Reload the page to see their change, then edit again.",
                code="stale",
            )
        return cleaned


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
