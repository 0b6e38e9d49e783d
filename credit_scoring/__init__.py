"""Domain core of credit-scoring-bento: input schema, features, business cost, scorer.

Nothing here imports the apps (training, service, monitoring, ui); they import this.
"""
