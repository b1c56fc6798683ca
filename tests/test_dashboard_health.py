"""Which configured MLflow stores are unusable, and why (dashboard/health.py)."""

from __future__ import annotations

from dashboard.health import MlflowProblem, mlflow_problems, problem_state

URI = "https://bob:s3cret@mlflow.example.org/"


def test_a_store_error_is_one_problem_without_credentials_and_run_errors_stay() -> None:
    errors = [
        {"location": "https://mlflow.example.org", "error": "cannot connect to the server"},
        {"location": URI, "error": "HTTP 401 access refused"},  # the same store again
        {"location": "run abc of https://mlflow.example.org", "error": "bad history"},
    ]
    problems, rest = mlflow_problems([URI], errors)
    assert problems == [
        MlflowProblem("https://mlflow.example.org/", "unreachable", "cannot connect to the server")
    ]
    assert rest == errors[1:]
    assert "s3cret" not in repr(problems)


def test_the_readers_kind_wins_over_its_wording() -> None:
    said = "the server did not answer within 10 s"
    assert problem_state({"error": said}) == "slow"
    assert problem_state({"error": said, "kind": "refused"}) == "refused"
    assert problem_state({"error": said, "kind": "no such kind"}) == "slow"
    assert problem_state({"error": "something else broke"}) == "error"
