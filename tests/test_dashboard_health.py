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


def test_every_reader_error_kind_has_a_state() -> None:
    """A kind the MLflow reader may set (analyzer.errors) is read by its kind, not its words."""
    from analyzer.errors import SOURCE_ERROR_KINDS
    from dashboard.health import KIND_STATES, STATES

    assert set(KIND_STATES) == SOURCE_ERROR_KINDS
    assert set(KIND_STATES.values()) <= set(STATES)
    said = "did not answer within 10 s"  # the words of 'slow'
    assert problem_state({"error": said, "kind": "auth"}) == "refused"
    assert problem_state({"error": said, "kind": "server_error"}) == "error"


def test_a_dead_server_read_by_the_dashboard_is_unreachable_by_its_kind(tmp_path) -> None:
    """The real read path: a probe of a port nothing listens on carries the reader's kind."""
    from dashboard.sources import probe_mlflow
    from tests.fixtures_mlflow import free_port

    res = probe_mlflow(f"http://127.0.0.1:{free_port()}")
    assert res is not None and res.errors[0]["kind"] == "unreachable"
    assert problem_state(res.errors[0]) == "unreachable"
