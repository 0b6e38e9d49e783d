"""Training app: data loading and generation, the search, MLflow logging, promotion."""
