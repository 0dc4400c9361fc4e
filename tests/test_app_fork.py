"""The Live page's fork-from-step control and the fix button: a new run continues from a kept state, shown
beside its parent; a fix that reruns starts from step 0; the charts say what a validation point reads."""

from app_testkit import TINY, app, engine, figures, fresh_engine, no_exceptions, texts, wait_done  # noqa: F401

from engine.forks import apply_fix  # noqa: F401  (the button's callback goes through it)


def start_tiny():
    at = app(TINY).run()
    at.button(key="start_first").click().run()
    (run_id,) = at.session_state["runs"]
    wait_done([run_id])
    at.run()
    return at, run_id


def test_fork_from_a_kept_step_opens_the_fork_beside_its_parent():
    at, run_id = start_tiny()
    assert engine().jobs.snapshot_steps(run_id) == [16, 30]  # one log-spaced state, and the last one
    assert at.selectbox(key=f"fork-step-{run_id}").options == ["30", "16"]
    at.selectbox(key=f"fork-step-{run_id}").set_value(16).run()
    at.button(key=f"fork-go-{run_id}").click().run()
    no_exceptions(at)
    shown = at.session_state["runs"]
    assert shown[0] == run_id and len(shown) == 2
    child = engine().store.run(shown[1])
    assert child.parent == run_id and child.fork_step == 16
    wait_done([child.id])
    steps, _ = engine().store.scalars(child.id, "train/loss")
    assert steps[0] == 16 and steps[-1] == 29


def test_a_rerun_fix_starts_from_step_0_beside_the_run():
    at, run_id = start_tiny()
    eng = engine()
    data = {"rule": "test-rule", "title": "Perplexity above |V|", "explanation": "The logits are confidently wrong.",
            "fix": {"warmup_steps": 10}, "fix_label": "warm up over 10 steps", "apply": "rerun"}
    eng.store.add_event(run_id, 20, "diagnosis", "perplexity above |V|", data)
    eng.store.flush()
    eng.cache.forget(run_id)
    at.run()
    at.button(key=f"fix-{run_id}-test-rule-20").click().run()
    no_exceptions(at)
    child = eng.store.run(at.session_state["runs"][1])
    assert child.fork_step == 0 and child.label == "warmup_steps 0 → 10" and child.config["warmup_steps"] == 10
    wait_done([child.id])
    assert eng.store.scalars(child.id, "train/loss")[0][0] == 0


def test_the_perplexity_chart_says_what_a_validation_point_reads():
    at, run_id = start_tiny()
    (ppl,) = [f for f in figures(at) if f["layout"]["title"]["text"] == "Perplexity"]
    note = ppl["layout"]["title"]["subtitle"]["text"]
    v = engine().store.run(run_id).summary["validation"]
    assert f"validation on 2 of {v['split']['batches']} batches spread over the split" in note
    assert f"{v['split']['targets']:,} characters" in note and "every 5th evaluation and at the end" in note
    names = [t["name"] for t in ppl["data"]]
    assert any(n.endswith("val, whole split") for n in names)
