"""The model bundle a portfolio run scores with: the promoted one from the BentoML store, or
a bundle folder given by path (a copy shipped with ``spark-submit``). Its digests are checked
here, as the service checks them, so a changed file stops the run before Spark starts."""

from __future__ import annotations

from pathlib import Path

import bentoml
import yaml

from credit_scoring.batch.spark import Bundle
from credit_scoring.core.schema import ModelBundleError
from credit_scoring.core.scorer import verify_digests


def from_store(tag: str) -> Bundle:
    """``name:version`` or ``name:latest`` from the BentoML store."""
    try:
        stored = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound as error:
        raise bentoml.exceptions.NotFound(
            f"no model {tag} in the BentoML store: train and promote one first "
            "(`make train promote`), give --model PATH, or set CREDIT_MODEL_NAME / BENTOML_HOME"
        ) from error
    folder = Path(stored.path)
    return Bundle(folder, str(stored.tag), verify_digests(folder))


def from_folder(folder: Path) -> Bundle:
    """A bundle folder; its version is the store's ``name:version`` when its BentoML file
    says it, else the folder's name."""
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ModelBundleError(f"--model {folder}: not a model bundle folder")
    digest = verify_digests(folder)
    manifest = folder / "model.yaml"
    version = folder.name
    if manifest.is_file():
        meta = yaml.safe_load(manifest.read_text("utf-8")) or {}
        if meta.get("name") and meta.get("version"):
            version = f"{meta['name']}:{meta['version']}"
    return Bundle(folder, version, digest)
