"""The rows of the accuracy report (``registry.accuracy``) in the cloud: the caller's results of the
range from the owner index (keys only, newest first), their small attributes by id
(BatchGetItem), and their labels by id from the feedback table (BatchGetItem).

Bounded: a report covers at most ``registry.accuracy.MAX_WEEKS`` weeks and reads at most
``MAX_REPORT_RESULTS`` results, the newest of the range; past that it says ``truncated`` (its
oldest weeks are incomplete). At the bound that is 50 index pages at most (keys only), 50
BatchGetItem calls for the results (a few attributes each) and 50 for the labels: about a second
of the API function's 29.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from deepfake_detect.aws.adapters.feedback import DynamoDBFeedbackStore
from deepfake_detect.aws.adapters.stores import DynamoDBResultStore
from deepfake_detect.registry.accuracy import ReviewedBatch

MAX_REPORT_RESULTS = 5_000


class DynamoDBReviewedSource:
    def __init__(
        self,
        results: DynamoDBResultStore,
        feedback: DynamoDBFeedbackStore | None,
        limit: int = MAX_REPORT_RESULTS,
    ) -> None:
        self.results = results
        self.feedback = feedback
        self.limit = limit

    def reviewed(self, *, owner: str | None, since: datetime, until: datetime) -> ReviewedBatch:
        if owner is None:  # every record of a table is no one's to read at once
            raise ValueError("the cloud's accuracy report is per owner")
        rows, truncated = self.results.reviewed(owner, since, until, self.limit)
        labels = self.feedback.labels([row.result_id for row in rows]) if self.feedback else {}
        return ReviewedBatch(
            rows=[replace(row, label=labels.get(row.result_id)) for row in rows],
            truncated=truncated,
            limit=self.limit,
        )
