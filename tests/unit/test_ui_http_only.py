"""The Streamlit page knows the service over HTTP only: its modules load nothing of the package
(its launcher, a tool, may: it starts the service with the runner)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ui.client import ServedField
from ui.form import FormField
from ui.settings import UISettings


def test_the_page_modules_import_nothing_of_the_package():
    probe = (
        "import sys; import ui.client, ui.form, ui.charts, ui.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'credit_scoring'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CREDIT_SERVICE_URL", "http://10.0.0.5:3000/")
    monkeypatch.setenv("CREDIT_API_KEY", "")
    settings = UISettings()
    assert settings.service_url == "http://10.0.0.5:3000"
    assert settings.api_key is None  # empty: an open service


AGE = "Client's age in days at the time of application [time only relative to the application]"


@pytest.mark.parametrize(
    ("description", "minimum", "in_years"),
    [
        (AGE, -36525, True),
        ("How many days before application did client change phone", -36525, True),
        ("observations with 30 DPD (days past due) default", 0, False),
        ("", -36525, False),  # a user's column without a description: shown as it is
    ],
)
def test_day_offsets_before_the_application_are_shown_in_years(description, minimum, in_years):
    spec = ServedField("X", "numeric", integer=True, minimum=minimum, description=description)
    assert FormField(spec).in_years is in_years


def test_the_example_is_the_default_in_the_widgets_unit():
    age = FormField(ServedField("AGE", "numeric", True, -36525, 0, description=AGE, example=-14610))
    assert age.widget_default() == 40.0 and age.to_api(40.0) == -14610
    amount = FormField(ServedField("AMOUNT", "numeric", example=202500))
    assert amount.default == 202500.0 and isinstance(amount.default, float)
    # A sentinel after the application (365243 = not employed) has no value in years.
    employed = FormField(
        ServedField("E", "numeric", True, -36525, 365243, description=AGE, example=365243)
    )
    assert employed.widget_default() is None
