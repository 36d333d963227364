"""Forms of the people pages."""

from __future__ import annotations

from django import forms


class SearchForm(forms.Form):
    """居民搜索: a name, or an exact ID number or mobile number (sent by POST only, so
    personal numbers never appear in a URL, a log line or the browser history)."""

    q = forms.CharField(
        label="姓名 / 身份证号 / 手机号",
        max_length=50,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "placeholder": "输入姓名，或完整的身份证号、手机号",
                "autocomplete": "off",
                "autofocus": True,
            }
        ),
    )
