"""Classification error metric (the paper reports test error in %)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric


@METRICS.register_module()
class ClassificationErrorMetric(BaseMetric):
    """Top-1 test error and accuracy in percent.

    Reads ``pred_label`` and ``gt_label`` from each predicted data sample. Reports
    ``{prefix}/error``, ``{prefix}/accuracy`` (percent) and ``{prefix}/num_samples``;
    the default prefix is ``'mnist'``.
    """

    default_prefix = "mnist"

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if "pred_label" not in sample or "gt_label" not in sample:
                raise KeyError("ClassificationErrorMetric needs 'pred_label' and 'gt_label' in each data "
                               f"sample, got keys {sorted(sample)}")
            self.results.append((int(sample["pred_label"]), int(sample["gt_label"])))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        if not results:
            raise ValueError("ClassificationErrorMetric: no predictions were processed")
        correct = sum(p == g for p, g in results)
        accuracy = 100.0 * correct / len(results)
        return dict(error=100.0 - accuracy, accuracy=accuracy, num_samples=len(results))
