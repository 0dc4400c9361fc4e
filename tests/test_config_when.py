"""Which settings apply: each `when` on a RunConfig setting names real settings and values they can take,
and `Field.applies` follows it (the dashboard's form shows a setting only where it applies)."""

import pytest

from engine.config import FIELD_BY_NAME, FIELDS, RunConfig


def test_every_when_names_a_setting_with_choices_and_values_among_them():
    for f in FIELDS:
        for name, allowed in f.when:
            other = FIELD_BY_NAME[name]  # KeyError: the declaration names no setting
            assert other.choices, f"{f.name}: when on {name}, which has no fixed choices"
            assert allowed and set(allowed) <= set(other.choices), (f.name, name, allowed)
            assert name != f.name


@pytest.mark.parametrize("field,applies,does_not", [
    ("momentum", {"optimizer": "sgd"}, {"optimizer": "adam"}),
    ("beta2", {"optimizer": "adamw"}, {"optimizer": "sgd"}),
    ("plateau_patience", {"schedule": "plateau"}, {"schedule": "constant"}),
    ("gamma", {"schedule": "step"}, {"schedule": "cosine"}),
    ("clip_value", {"clip": "value"}, {"clip": "none"}),
    ("forget_bias", {"cell": "lstm"}, {"cell": "gru"}),
    ("num_items", {"task": "next_item"}, {"task": "text"}),
])
def test_applies_follows_the_declaration(field, applies, does_not):
    f = FIELD_BY_NAME[field]
    assert f.applies(applies) and not f.applies(does_not)


def test_a_missing_value_counts_as_the_default_and_settings_without_when_always_apply():
    defaults = RunConfig()
    assert FIELD_BY_NAME["beta1"].applies({}) == (defaults.optimizer in ("adam", "adamw"))
    assert not FIELD_BY_NAME["momentum"].applies({})  # the default optimiser is Adam
    assert all(f.applies({"optimizer": "sgd", "task": "adding"}) for f in FIELDS if not f.when)


def test_a_setting_that_does_not_apply_keeps_its_value_in_the_config():
    cfg = RunConfig(optimizer="adam", momentum=0.5)  # momentum is ignored by Adam, but kept
    assert not FIELD_BY_NAME["momentum"].applies(cfg.to_dict()) and cfg.momentum == 0.5
    assert RunConfig.from_query(cfg.to_query()) == cfg
