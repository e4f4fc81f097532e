from nbgrader.plugins import LateSubmissionPlugin


class TenPercentPerDay(LateSubmissionPlugin):
    """10% of the score per day late (or part of a day), at most all of it."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return score * min(1.0, 0.1 * (total_seconds_late // 86400 + 1))
