"""The Method step plans the draft's objective: DPO's two sequences per pair and reference pass are said and sized."""
from __future__ import annotations

from fttui.planning import load_shape

from .conftest import drive


def _method_step(make_app, objective: str):
    app = make_app(2)
    app.draft.sections["model"].update(name="smollm2", task="causal-lm")
    app.draft.sections["training"]["objective"] = objective
    app.draft.shape = load_shape("smollm2")  # what the Model step would have read (the bundled config)
    return app


def test_the_method_step_says_what_dpo_adds_and_greys_methods_that_cannot_train_it(make_app):
    from textual.widgets import Static

    seen = {}
    for objective in ("sft", "dpo"):
        app = _method_step(make_app, objective)

        async def body(pilot, objective=objective, app=app):
            intro = str(app.screen.query_one("#method-intro", Static).render())
            seen[objective] = ({p.method: p for p in app.draft.recommendation.methods}, intro)

        drive(app, body, size=(140, 40))
    dpo, intro = seen["dpo"]
    sft, sft_intro = seen["sft"]
    assert "DPO: 2 sequences per pair + reference pass" in intro and "training.objective=dpo" in intro
    assert "DPO" not in sft_intro
    assert not dpo["prompt"].applicable and sft["prompt"].applicable
    # Full holds a frozen reference copy of the weights; LoRA switches its adapter off instead
    assert dpo["full"].breakdown["reference"] > 0 and "reference" not in sft["full"].breakdown
    assert dpo["lora"].breakdown["reference"] == 0
