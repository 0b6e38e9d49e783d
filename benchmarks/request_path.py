"""Where a request's time goes: each stage of score and predict, in process, per batch.

    python -m benchmarks.request_path                       # the promoted model
    python -m benchmarks.request_path --model credit_scoring:<version> --batches 1,8,32

For each request kind of the serving benchmark (application only, a typical client) and batch
size, the service's own functions are timed one after the other on one thread: JSON parsing
and validation (one request per applicant, as clients send them), batch assembly, the features
(application fields, then each block of history tables), the model, the contributions and
reasons (predict), answer building, the decision record (one transaction per batch) and the
response's JSON. The HTTP server, BentoML's batching and the middlewares are what the serving
benchmark measures on top (req/s against ``/livez``).
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Any

import typer
from pydantic import TypeAdapter

from benchmarks.serving import APPLICATION_ONLY, EXAMPLE, TYPICAL, benchmarked
from credit_scoring.core.features import build_features
from credit_scoring.core.request_log import LoggedDecision, RequestLog
from credit_scoring.core.scorer import Scorer
from credit_scoring.serving.batch import Batch, to_batch
from credit_scoring.serving.contract import response_models

# The module (the package exports its function of the same name, ``features``).
home_credit_features = import_module("credit_scoring.profiles.home_credit.features")

app = typer.Typer(add_completion=False, help=__doc__)


def timed(run: Callable[[], Any], seconds: float = 0.3) -> tuple[float, Any]:
    """Mean milliseconds per call of ``run`` (called for about ``seconds``), and its result."""
    result = run()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls < 3:
        run()
        calls += 1
    return 1000 * elapsed / calls, result


def history_blocks(batch: Batch) -> dict[str, Callable[[], Any]]:
    """Each block of Home Credit history features, on its own (its tables as the batch has
    them)."""
    if batch.histories is None:
        return {}
    ids = batch.applications["SK_ID_CURR"].to_numpy(float)
    blocks = home_credit_features._BLOCKS  # each block's tables and builder
    return {
        f"features: {'+'.join(tables)}": partial(
            home_credit_features._block, b, batch.histories, ids
        )
        for b, (tables, _) in enumerate(blocks)
    }


def stages(scorer: Scorer, applicants: list[dict], record: RequestLog) -> dict[str, float]:
    """Milliseconds per batch of each stage, for these applicants in one batch."""
    schema = scorer.schema
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[schema.request_model()])  # type: ignore[misc,arg-type]
    Score, _, _ = response_models(schema.id_column, schema.id_integer)
    bodies = [json.dumps([a]).encode() for a in applicants]
    ms: dict[str, float] = {}
    ms["parse + validate"], parsed = timed(lambda: [adapter.validate_json(b)[0] for b in bodies])
    ms["batch assembly"], batch = timed(lambda: to_batch(parsed, schema))
    ms["features: application"], _ = timed(lambda: build_features(batch.applications, schema))
    for name, run in history_blocks(batch).items():
        ms[name], _ = timed(run)
    ms["features: all"], built = timed(
        lambda: build_features(batch.applications, schema, batch.histories)
    )
    ms["model inputs"], inputs = timed(lambda: scorer.inputs(built))
    ms["model (probability)"], probability = timed(lambda: scorer.probability_of(inputs))
    ms["contributions (predict)"], explanation = timed(lambda: scorer.explanation_of(inputs))
    ms["reasons (predict)"], _ = timed(
        lambda: [scorer.reasons(explanation, i) for i in range(len(batch))]
    )

    def answers() -> list[Any]:
        decisions = scorer.decide(probability)
        points, bands = scorer.grade(probability)
        return [
            Score(
                **{schema.id_column: batch.ids[i]},
                probability=float(probability[i]),
                decision=decisions[i],
                threshold=scorer.threshold,
                points=float(points[i]),
                band=bands[i],
                warnings=batch.warnings[i],
            )
            for i in range(len(batch))
        ]

    ms["answers"], built_answers = timed(answers)
    recorded = [a.model_dump(mode="json", exclude={schema.id_column}) for a in built_answers]
    rows = [
        LoggedDecision(None, "score", "m:1", "0" * 64, 0.5, i, batch.logged[i], recorded[i])
        for i in range(len(batch))
    ]
    ms["decision record"], _ = timed(lambda: record.append(rows))
    answer_list: TypeAdapter[list[Any]] = TypeAdapter(list[Score])  # type: ignore[valid-type]
    ms["response JSON"], _ = timed(lambda: answer_list.dump_json(built_answers))
    return ms


@app.command()
def main(
    model: str = typer.Option(None, help="The model's tag [the promoted one]"),
    batches: str = typer.Option("1,8,32", help="Batch sizes"),
) -> None:
    """Print each stage's milliseconds per batch and per applicant."""
    measured = benchmarked(model)
    scorer, kinds = measured.scorer, measured.kinds
    typer.echo(measured.note)
    gc.collect()
    gc.freeze()  # as the service does once loaded: the model's objects out of GC scans
    with tempfile.TemporaryDirectory() as folder:
        record = RequestLog(Path(folder, "record.sqlite"))
        for kind in (APPLICATION_ONLY, EXAMPLE, TYPICAL):
            if kind not in kinds:
                continue
            for size in (int(b) for b in batches.split(",")):
                applicants = (kinds[kind] * size)[:size]
                ms = stages(scorer, applicants, record)
                scored = sum(v for k, v in ms.items() if _on_score_path(k))
                typer.echo(
                    f"\n{kind}, batch of {size}: score path {scored:.2f} ms per batch, "
                    f"{scored / size:.3f} ms per applicant"
                )
                for name, value in ms.items():
                    typer.echo(f"  {name:<45} {value:8.3f} ms  {value / size:7.3f} per applicant")


def _on_score_path(stage: str) -> bool:
    """The stages score runs (features counted once, as a whole)."""
    return stage.startswith(("parse", "batch", "model", "answers", "decision", "response")) or (
        stage == "features: all"
    )


if __name__ == "__main__":
    app()
