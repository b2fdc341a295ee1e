"""The stand-in for sklearn.metrics: sentence-transformers imports without scikit-learn, which still works."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("sklearn")

SCRIPT = """
import sys
from qa.model.deferred import defer_sklearn_metrics
assert defer_sklearn_metrics()
assert not defer_sklearn_metrics()  # once is enough
import sentence_transformers.util.similarity as sim
assert "sklearn" not in sys.modules, "scikit-learn was imported"
import numpy as np
from sklearn.metrics import pairwise_distances   # a later user gets the real function
d = pairwise_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
assert abs(float(d[0, 0]) - 5.0) < 1e-9
assert abs(float(sim.pairwise_distances(np.array([[0.0]]), np.array([[2.0]]), metric="manhattan")[0, 0]) - 2) < 1e-9
import sklearn.metrics
assert type(sys.modules["sklearn.metrics"]).__name__ == "module" and sklearn.metrics.pairwise_distances
print("ok")
"""


def test_sentence_transformers_imports_without_scikit_learn_and_it_still_works() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
