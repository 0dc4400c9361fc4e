"""AppTest: the Runs page lists every stored run (also CLI ones) and acts on the chosen: open, export, share, delete."""

import io

import pandas as pd
from app_testkit import TINY, app, engine, fresh_engine, no_exceptions, texts, wait_done

from engine.config import RunConfig

__all__ = ["fresh_engine"]


def make_runs():
    """One finished run from the dashboard, and one 'from another process' left interrupted."""
    eng = engine()
    run_id = eng.jobs.submit(RunConfig.from_dict(TINY), label="tiny lstm")
    cli = eng.store.create_run(RunConfig(cell="gru").to_dict(), label="from the CLI", status="running")
    eng.store.set_status(cli, "interrupted", "process 4242 on another-host is gone")
    wait_done([run_id])
    return run_id, cli


def test_runs_table_lists_every_run_with_status_and_final_metrics():
    run_id, cli = make_runs()
    at = app().run()
    at.switch_page("screens/runs.py").run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert list(table["id"]) == [cli, run_id]  # newest first
    row = table.set_index("id").loc[run_id]
    assert row["status"] == "finished" and row["step"] == 30 and row["val ppl"] > 1
    assert "hidden_size=8" in row["settings"]
    assert table.set_index("id").loc[cli, "status"] == "interrupted"


def test_chosen_runs_open_export_share_and_delete():
    run_id, cli = make_runs()
    at = app({"runs": [run_id]}).run()
    at.switch_page("screens/runs.py").run()
    assert f"runs={run_id}" in texts(at.code) and "hidden_size=8" in texts(at.code)  # the share link
    csv = at.download_button(key=f"csv-{run_id}")
    assert csv.label == "CSV"
    data = engine().store.export(run_id, engine().store.path.parent / "x.csv", "csv").read_text()
    frame = pd.read_csv(io.StringIO(data), comment="#")  # the run's id and settings on # lines first
    assert {"step", "name", "value"} <= set(frame.columns) and "train/loss" in set(frame["name"])

    at.button(key="runs-open").click().run()
    no_exceptions(at)
    assert "Live" in texts(at.title)

    at.switch_page("screens/runs.py").run()
    assert at.button(key="runs-delete").disabled  # needs the confirmation first
    at.checkbox(key="runs-delete-confirm").check().run()
    at.button(key="runs-delete").click().run()
    no_exceptions(at)
    assert [r.id for r in engine().store.runs()] == [cli]
    assert at.session_state["runs"] == []
    assert f"Deleted `{run_id}`." in texts(at.toast)  # said, though the run is no longer chosen


def test_a_run_is_renamed_from_the_runs_page():
    run_id, _ = make_runs()
    at = app({"runs": [run_id]}).run()
    at.switch_page("screens/runs.py").run()
    box = at.text_input(key=f"name-{run_id}")
    assert box.value == "tiny lstm"
    box.set_value("lstm, tiny, first try").run()
    at.button(key=f"rename-{run_id}").click().run()
    no_exceptions(at)
    assert engine().store.run(run_id).label == "lstm, tiny, first try"
    assert "lstm, tiny, first try" in list(at.dataframe[0].value["label"])
    at.text_input(key=f"name-{run_id}").set_value("   ").run()
    at.button(key=f"rename-{run_id}").click().run()
    assert "cannot be empty" in texts(at.error) and engine().store.run(run_id).label == "lstm, tiny, first try"
    assert at.download_button(key=f"csvwide-{run_id}").label == "CSV, wide"
