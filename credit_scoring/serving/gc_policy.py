"""The garbage collector's settings in a serving worker.

Reference counting frees a request's objects as soon as it is answered; the cyclic collector
only has cycles to find, and a served request leaves none (``serving.record``). Python's
default starts a young collection every 700 net new containers: parsing, assembling and
featurising 32 clients of ~180 history rows ran 253 collections (21 of older generations),
each scanning, and promoting, objects still in use; under load (64 clients, typical clients,
``gc.callbacks``) that was ~4% of a worker's CPU and pauses of up to 20-30 ms. At 10,000 that
batch runs at most one young collection, the same load 2-3 in 30 s and no older one, and
garbage that does form a cycle is still collected.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_AFTER = 10_000  # net new containers before a young collection (Python: 700)


def settle() -> None:
    """Once loaded: everything so far kept out of collections for good (the model's ~200,000
    objects live as long as the process), and young collections less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, old)
