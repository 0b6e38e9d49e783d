"""Streamlit page for credit officers: score a client of the reference sample or a new
application, read the decision against the threshold and a refusal's reasons, record an
override, and read the fairness audit of the served model.

The page talks to the scoring service over HTTP only (``ui.client``; URL and API key from the
settings), so it works the same against `bentoml serve` and the container.
Run: ``make ui`` (or ``streamlit run ui/app.py`` with a service at CREDIT_SERVICE_URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui import charts, reasons
from ui.client import (
    InputRejected,
    ServedSchema,
    ServiceClient,
    ServiceError,
    ServiceUnavailable,
    Unauthorized,
)
from ui.form import UNKNOWN, FormField, application, form_fields, parse_extra_fields
from ui.monitoring import monitoring_view
from ui.settings import UISettings

WATERFALL_STEPS = 10
REFERENCE, NEW = "Reference client", "New application"
REVIEW, FAIRNESS, MONITORING = "Application review", "Fairness audit", "Monitoring"
OPPOSITE = {"granted": "refused", "refused": "granted"}


@dataclass(frozen=True)
class Outcome:
    """The last score, kept in the session so that it survives the page's reruns."""

    label: str
    prediction: dict[str, Any]
    explanation: dict[str, Any]  # every feature's contribution, for the waterfall
    sent: dict[str, Any] | None = None  # the application as sent, for the officer to check
    applicant_id: int | str | None = None  # what an override names (None: sent without id)


@st.cache_data(ttl=60, show_spinner=False)
def served_model(url: str, api_key: str | None) -> tuple[dict[str, Any], ServedSchema, list]:
    """What is served; cached a minute so that a newly promoted model shows up soon."""
    client = ServiceClient(url, api_key)
    return client.metadata(), client.input_schema(), client.clients()


def show_error(error: Exception) -> None:
    if isinstance(error, InputRejected):
        lines = "\n".join(f"- **{field}**: {message}" for field, message in error.problems)
        st.error(f"The service rejected the application ({error}):\n\n{lines}", icon="⛔")
    elif isinstance(error, Unauthorized):
        st.error(str(error), icon="🔒")
    elif isinstance(error, ServiceUnavailable):
        st.error(str(error), icon="🔌")
    else:
        st.error(str(error), icon="⚠️")


def sidebar(meta: dict[str, Any], client: ServiceClient) -> tuple[str, str]:
    with st.sidebar:
        view = st.radio("Page", [REVIEW, FAIRNESS, MONITORING], key="view")
        mode = st.radio("Applicant", [REFERENCE, NEW], key="mode")
        st.divider()
        st.subheader("Served model")
        st.caption(f"`{meta['model_tag']}` at {client.base_url}")
        metrics = meta.get("metrics", {})
        st.markdown(
            f"- decision threshold: **{meta['threshold']:.3f}**\n"
            f"- cost of a missed defaulter / refused good client: "
            f"**{meta['costs']['fn_cost']:g} / {meta['costs']['fp_cost']:g}**\n"
            + (
                f"- ROC AUC (hold-out): **{metrics['test_roc_auc']:.3f}**\n"
                if "test_roc_auc" in metrics
                else ""
            )
            + f"- reference clients: **{meta['reference_clients']}**"
        )
        st.markdown(f"[Model card]({client.model_card_url()})")
    return view, mode


def reference_client_input(client: ServiceClient, client_ids: list, id_column: str) -> None:
    if not client_ids:
        st.info("The served model has no reference sample: use a new application.")
        return
    client_id = st.selectbox(f"Client id ({id_column})", client_ids, key="client_id")
    if st.button("Score client", key="score_client", type="primary"):
        try:
            prediction = client.predict_client([client_id])[0]
            explanation = client.explain_client([client_id])[0]
            st.session_state["outcome"] = Outcome(
                f"Client {client_id}", prediction, explanation, applicant_id=client_id
            )
        except ServiceError as error:
            st.session_state["outcome"] = error


def _widget(field: FormField) -> Any:
    spec, help_text = field.spec, field.spec.description or None
    if spec.kind == "categorical":
        options = [UNKNOWN, *spec.categories]
        index = options.index(str(field.default)) if field.default in options else 0
        return st.selectbox(field.label, options, index=index, key=field.key, help=help_text)
    low, high = field.widget_range()
    if spec.integer and not field.in_years:
        return st.number_input(
            field.label, low, high, field.widget_default(), 1, key=field.key, help=help_text
        )
    step = 0.5 if field.in_years else (0.01 if high is not None and high <= 1 else 1000.0)
    return st.number_input(
        field.label,
        None if low is None else float(low),
        None if high is None else float(high),
        field.widget_default(),
        step,
        format="%.1f" if field.in_years else ("%.3f" if step < 1 else "%.0f"),
        key=field.key,
        help=help_text,
    )


def new_application_input(client: ServiceClient, schema: ServedSchema) -> None:
    fields = form_fields(schema)
    with st.form("application"):
        st.caption(
            "Defaults are the service's example applicant; ranges and categories come from the "
            f"service. Pick {UNKNOWN} to send a category as missing, or give a number as "
            'null below, e.g. {"EXT_SOURCE_3": null}.'
        )
        columns = st.columns(2)
        values = {}
        for i, field in enumerate(fields):
            with columns[i % 2]:
                values[field.key] = _widget(field)
        extra_text = st.text_area(
            "Additional fields (JSON object; they override the fields above)",
            key="extra_fields",
            placeholder='{"OWN_CAR_AGE": 5, "DAYS_ID_PUBLISH": -2000, "EXT_SOURCE_3": null}',
        )
        submitted = st.form_submit_button(
            "Score application", key="score_application", type="primary"
        )
    if not submitted:
        return
    try:
        row = application(fields, values, parse_extra_fields(extra_text))
    except ValueError as error:  # malformed JSON: nothing to send
        st.session_state["outcome"] = error
        return
    try:
        prediction = client.predict([row])[0]
        explanation = client.explain([row])[0]
        applicant_id = row.get(schema.id_column)
        st.session_state["outcome"] = Outcome(NEW, prediction, explanation, row, applicant_id)
    except ServiceError as error:
        st.session_state["outcome"] = error


def show_outcome(outcome: Outcome) -> None:
    label, prediction, explanation = outcome.label, outcome.prediction, outcome.explanation
    probability, threshold = prediction["probability"], prediction["threshold"]
    st.subheader(label)
    left, right = st.columns(2)
    left.metric(
        "Probability of default",
        f"{probability:.1%}",
        delta=f"{probability - threshold:+.1%} vs threshold {threshold:.1%}",
        delta_color="inverse",
    )
    if "points" in prediction:  # services before scorecard points answer without them
        left.metric("Scorecard points (band)", f"{prediction['points']:.0f} ({prediction['band']})")
    for warning in prediction.get("warnings", []):
        st.warning(warning)
    with right:
        if prediction["decision"] == "refused":
            st.error("**Refused**: the risk is at or above the threshold", icon="✖️")
        else:
            st.success("**Granted**: the risk is below the threshold", icon="✔️")
    st.altair_chart(charts.probability_gauge(probability, threshold), width="stretch")
    if prediction["decision"] == "refused":
        st.markdown("**Principal reasons for the refusal**")
        st.markdown(reasons.letter(prediction["reasons"]))
        st.caption(
            "At most four, only factors that pushed towards refusal, never a missing value or a "
            "protected attribute; every feature's contribution is in the waterfall below."
        )
    st.altair_chart(
        charts.waterfall(
            explanation["base_value"],
            explanation["contributions"],
            explanation["probability"],
            WATERFALL_STEPS,
        ),
        width="stretch",
    )
    if outcome.sent is not None:
        with st.expander("Application as sent to the service"):
            st.json(outcome.sent)


def override_form(client: ServiceClient, outcome: Outcome, id_column: str) -> None:
    """Record a final decision other than the model's; the model's logged answer stays."""
    final = OPPOSITE[outcome.prediction["decision"]]
    st.markdown(f"**Override**: record a final decision of *{final}*")
    if outcome.applicant_id is None:
        st.info(f"Send the application with its id ({id_column}) to record an override.")
        return
    with st.form("override"):
        reason = st.text_area("Reason (kept with the override)", key="override_reason")
        officer = st.text_input("Credit officer", key="override_officer")
        submitted = st.form_submit_button(f"Record: {final}", key="record_override")
    if not submitted:
        return
    try:
        record = client.override(outcome.applicant_id, final, reason, officer)
    except ServiceError as error:
        show_error(error)
        return
    st.success(
        f"Override {record['override_id']} recorded: {final} by {record['officer']} "
        f"(the model's answer, {record['model_decision']}, stays in the request log)."
    )


def model_view(client: ServiceClient, meta: dict[str, Any]) -> None:
    st.subheader("What drives the model")
    table = charts.importance_table(meta["global_importance"])
    st.altair_chart(charts.importance_bars(table), width="stretch")
    st.caption(
        f"Mean |SHAP| (log-odds) over the {meta['reference_clients']} reference clients "
        "shipped with the model, computed by the service when it loads the model."
    )


def fairness_view(meta: dict[str, Any], client: ServiceClient) -> None:
    """The served model's fairness audit (``fairness`` in /metadata), or that it has none."""
    st.subheader("Fairness audit of the served model")
    st.markdown(f"The [model card]({client.model_card_url()}) has the full audit.")
    fairness = meta.get("fairness")
    if not fairness:
        st.warning(reasons.NOT_AUDITED)
        return
    tables, figures = reasons.fairness_tables(fairness)
    for name, table in tables.items():
        st.markdown(f"**{name}**")
        st.dataframe(table)
    if figures:
        st.json(figures)


def main() -> None:
    st.set_page_config(page_title="Credit scoring", page_icon="💳", layout="wide")
    st.title("Credit scoring: application review")
    client = ServiceClient.from_settings()
    try:
        meta, schema, client_ids = served_model(client.base_url, client.api_key)
    except ServiceError as error:
        show_error(error)
        st.stop()
    view, mode = sidebar(meta, client)
    if view == FAIRNESS:
        fairness_view(meta, client)
        return
    if view == MONITORING:
        monitoring_view(UISettings().reports_dir)
        return
    entry, result = st.columns([2, 3], gap="large")
    with entry:
        if mode == REFERENCE:
            reference_client_input(client, client_ids, schema.id_column)
        else:
            new_application_input(client, schema)
    with result:
        outcome = st.session_state.get("outcome")
        if isinstance(outcome, Exception):
            show_error(outcome)
        elif outcome is not None:
            show_outcome(outcome)
            override_form(client, outcome, schema.id_column)
        else:
            st.info("Score a client to see the decision and its reasons.")
    st.divider()
    model_view(client, meta)


main()
