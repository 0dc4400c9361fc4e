"""RunConfig: one declaration per field, validation naming the field, JSON and URL round-trips."""

import dataclasses
import json

import pytest

from engine.config import FIELDS, ConfigError, RunConfig


def test_declarations_match_the_dataclass():
    assert [f.name for f in FIELDS] == [f.name for f in dataclasses.fields(RunConfig)]
    for f in FIELDS:
        assert getattr(RunConfig(), f.name) == f.default, f.name
        assert f.help.endswith("."), f.name


def test_defaults_are_valid_and_frozen():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0


def test_json_round_trip():
    cfg = RunConfig(cell="gru", lr=0.01, layer_norm=True, eval_every=0.25, seed=7)
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["cell"] == "gru"


def test_query_round_trip_holds_only_changes():
    cfg = RunConfig(cell="rnn_relu", init="identity", lr=3e-4, clip="none", layer_norm=True, max_steps=1500)
    query = cfg.to_query()
    assert "hidden_size" not in query  # defaults stay out of the URL
    assert RunConfig.from_query(query) == cfg
    assert RunConfig.from_query("?" + query) == cfg
    assert RunConfig.from_query("") == RunConfig()


def test_unknown_key_raises_naming_it():
    with pytest.raises(ConfigError) as err:
        RunConfig.from_query("cell=gru&learning_rate=0.1")
    assert err.value.field == "learning_rate"


# one invalid value per field: every one must raise a ConfigError that names its field
def _bad_values():
    for f in FIELDS:
        if f.type is bool:
            yield f.name, "maybe"
        elif f.choices:
            yield f.name, "no-such-choice"
        elif f.type in (int, float):
            yield f.name, str(f.min - 1 if f.min is not None and f.min - 1 < f.min else -1e30)
            yield f.name, "abc"
            if f.max is not None:
                yield f.name, str(f.max * 10 + 1)
        else:
            yield f.name, ""


@pytest.mark.parametrize("name,value", list(_bad_values()))
def test_every_invalid_value_names_its_field(name, value):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({name: value})
    assert err.value.field == name
    assert name in str(err.value)


@pytest.mark.parametrize("changes,field", [
    ({"eval_every": 2.5}, "eval_every"),
    ({"forget_bias": 1.0, "cell": "gru"}, "forget_bias"),
    ({"init": "identity", "cell": "lstm"}, "init"),
    ({"task": "adding", "corpus": "tinyshakespeare"}, "corpus"),
    ({"variable_length": "padded_naive"}, "variable_length"),
    ({"min_lr": 0.1, "lr": 0.01}, "min_lr"),
    ({"hidden_size": 12.5}, "hidden_size"),
    ({"lr": float("nan")}, "lr"),
])
def test_cross_field_rules(changes, field):
    with pytest.raises(ConfigError) as err:
        RunConfig(**changes)
    assert err.value.field == field


def test_replace_parses_strings():
    cfg = RunConfig().replace(lr="0.5", layer_norm="true", hidden_size="64")
    assert (cfg.lr, cfg.layer_norm, cfg.hidden_size) == (0.5, True, 64)
