"""Params as one typed schema: the pydantic models, their JSON Schema for editors, their
defaults, and the way a params file's values are read (exactly, and named when wrong)."""

import json
from decimal import Decimal as D
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

import arlib.cli
from arlib.aging import AgingConfig
from arlib.config import (
    ConfigError,
    Params,
    differences,
    from_mapping,
    json_schema,
    json_schema_text,
    load_config,
)
from arlib.exceptions import ExceptionConfig
from arlib.match import MatchConfig
from arlib.notebook import params_changes
from arlib.provision import ProvisionConfig
from tests.conftest import ROOT, write

SAMPLES = sorted((ROOT / "params").glob("*.yaml"))
SAMPLE = ROOT / "params" / "2026-09.yaml"


def sample_raw() -> dict:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        from_mapping(raw, root=ROOT)
    return info.value.problems


def problems_or_none(raw: dict) -> list[str]:
    try:
        from_mapping(raw, root=ROOT)
    except ConfigError as exc:
        return exc.problems
    return []


def as_an_editor_reads(path: Path) -> dict:
    """A params file as a YAML editor checks it against the schema: dates are text."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


# ------------------------------------------------------------------ the JSON Schema
def test_committed_schema_is_current():
    committed = (ROOT / "docs" / "params.schema.json").read_text(encoding="utf-8")
    assert committed == json_schema_text(), (
        "docs/params.schema.json is stale: regenerate it with `arlib schema`"
    )


def test_schema_is_valid_and_describes_every_key():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == set(Params.model_fields)
    assert schema["required"] == ["period", "inputs"]
    assert schema["additionalProperties"] is False
    matching = schema["$defs"]["MatchConfig"]["properties"]
    assert all(field.get("description") for field in matching.values())
    assert matching["date_window_days"] == {
        "default": 180,
        "description": matching["date_window_days"]["description"],
        "maximum": 36600,
        "minimum": 0,
        "type": "integer",
    }
    assert "title" not in matching["date_window_days"]  # no "Date Window Days" noise


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_schema_accepts_the_sample_params(path):
    validator = jsonschema.Draft202012Validator(json_schema())
    assert [e.message for e in validator.iter_errors(as_an_editor_reads(path))] == []
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../docs/params.schema.json\n"
    )  # so VS Code's YAML extension finds it


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"matching": {"date_window_days": "ten"}}, ["matching", "date_window_days"]),
        ({"matching": {"colour": 1}}, ["matching"]),
        ({"colour": "blue"}, []),
        ({"aging": {"basis": "weekday"}}, ["aging", "basis"]),
        ({"base_currency": "XYZ"}, ["base_currency"]),
        ({"matching": {"bank_charge_max": {"HKD": "x"}}}, ["matching", "bank_charge_max", "HKD"]),
        ({"exceptions": {"tax_rates": [1.5]}}, ["exceptions", "tax_rates", 0]),
        ({"period": "October"}, ["period"]),
        ({"inputs": {"invoices": {"format": "csv"}}}, ["inputs", "invoices"]),
    ],
)
def test_schema_rejects_a_broken_params_file(change, where):
    raw = {**as_an_editor_reads(SAMPLE), **change}
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(raw))
    assert errors, change
    assert where in [list(e.absolute_path) for e in errors]


def test_arlib_schema_writes_the_file(tmp_path, capsys):
    target = tmp_path / "docs" / "params.schema.json"
    assert arlib.cli.main(["schema", "--out", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == json_schema_text()
    assert arlib.cli.main(["schema", "--out", "-"]) == 0
    assert capsys.readouterr().out == json_schema_text()


# ------------------------------------------------------------------ reading values
def test_nested_problems_are_named_by_their_place():
    raw = sample_raw()
    raw["matching"] = {"bank_charge_max": {"HKD": "x", "CNY": 30}, "rules": ["exact", "manual"]}
    raw["aging"] = {"buckets": [["early", None, "zero"], ["late", 1]]}
    raw["exceptions"] = {"actions": {"shortpay": "call"}, "shift_factors": [10, 1]}
    problems = problems_of(raw)
    assert "matching.bank_charge_max.HKD: 'x' is not a number" in problems
    assert any(
        p.startswith("matching.rules.0: 'exact' is not a known matching rule") for p in problems
    )
    assert "aging.buckets.0.2: 'zero' is not an integer" in problems
    assert "aging.buckets.1: ['late', 1] has too few items" in problems
    assert any(
        p.startswith("exceptions.actions.shortpay: 'shortpay' is not a known") for p in problems
    )
    assert "exceptions.shift_factors.1: 1 must be at least 2" in problems
    assert len(problems) == 6


def test_cross_field_checks_name_the_field():
    raw = sample_raw()
    raw["matching"] = {"fuzzy_auto_threshold": 0.7}
    raw["tiers"] = {"actions": {"A": "call"}}
    raw["aging"] = {"buckets": [["a", None, 0], ["a", 1, None]]}
    assert problems_of(raw) == [
        "matching.fuzzy_suggest_threshold: 0.75 must not be above fuzzy_auto_threshold (0.7)",
        "aging.buckets: the labels must be unique and differ from invalid_bucket",
        "tiers.actions: no action for tier(s) 'B', 'C'",
    ]


def test_a_bad_regular_expression_is_a_named_problem():
    """It was a traceback (re.error is no ValueError) before params were one model."""
    raw = {**sample_raw(), "matching": {"reference_patterns": ["INV(\\d+"]}}
    [problem] = problems_of(raw)
    assert problem.startswith("matching.reference_patterns.0: 'INV(\\\\d+' is not a regular")


def test_papermill_strings_are_read_as_meant():
    raw = {
        **sample_raw(),
        "gl_control_balance": "81,048,506.02",  # as a GL report writes it
        "matching": {
            "date_window_days": "30",
            "bank_charge_whole_units": "false",
            "rounding_tolerance": "0.10",
            "fuzzy_margin": "0.1",
        },
        "kpis": {"clamp_early_payments": "yes"},
        "workpapers": {"row_cap": " 500 "},
    }
    config = from_mapping(raw, root=ROOT)
    assert config.matching.date_window_days == 30
    assert config.matching.bank_charge_whole_units is False
    assert config.matching.rounding_tolerance == D("0.10")
    assert config.matching.fuzzy_margin == 0.1
    assert config.kpis.clamp_early_payments is True
    assert config.workpapers.row_cap == 500
    assert config.gl_control_balance == D("81048506.02")


@pytest.mark.parametrize(
    ("section", "values", "expected"),
    [
        ("matching", {"date_window_days": True}, "True is not an integer"),
        ("matching", {"date_window_days": 1.5}, "1.5 is not an integer"),
        ("matching", {"bank_charge_whole_units": 1}, "1 is not true/false"),
        ("matching", {"rounding_tolerance": True}, "True is not a number"),
        ("matching", {"rounding_tolerance": "1,5"}, "'1,5' is not a number"),
        ("adjustments", {"ar_account": 11.22}, "11.22 is not text"),
    ],
)
def test_nothing_is_guessed(section, values, expected):
    [problem] = problems_of({**sample_raw(), section: values})
    assert problem == f"{section}.{next(iter(values))}: {expected}"


def test_yaml_floats_become_exact_decimals(tmp_path):
    """0.1 in YAML is the decimal 0.1, not the float's binary value 0.1000000000000000055..."""
    text = SAMPLE.read_text(encoding="utf-8") + (
        "matching: {rounding_tolerance: 0.1, bank_charge_max: {CNY: 0.05, '*': 0}, "
        "fx_tolerance_pct: 0.3}\n"
        "exceptions: {tax_rates: [0.13, 0.06]}\n"
        "provision: {opening_provision: 431659.19}\n"
    )
    path = write(tmp_path / "params" / "p.yaml", text)
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    config = load_config(path)
    assert config.matching.rounding_tolerance == D("0.1")
    assert str(config.matching.rounding_tolerance) == "0.1"
    assert config.matching.bank_charge_max == {"CNY": D("0.05"), "*": D("0")}
    assert config.exceptions.tax_rates == (D("0.13"), D("0.06"))
    assert str(config.exceptions.fx_tolerance_pct) == "0.3"  # matching's, shared
    assert config.exceptions.rounding_tolerance == D("0.1")
    assert config.exceptions.bank_charge_tolerance_by_currency == {"CNY": D("0.05")}
    assert str(config.provision.opening_provision) == "431659.19"
    assert MatchConfig(rounding_tolerance=0.05).rounding_tolerance == D("0.05")
    assert str(ProvisionConfig(loss_rates={"x": 0.1}).loss_rates["x"]) == "0.1"


def test_money_per_currency_has_the_currency_decimals():
    raw = {**sample_raw(), "matching": {"bank_charge_max": {"JPY": 50.5, "CNY": "30.005"}}}
    assert problems_of(raw) == [
        "matching.bank_charge_max.JPY: 50.5 has more decimals than JPY allows (0)",
        "matching.bank_charge_max.CNY: 30.005 has more decimals than CNY allows (2)",
    ]
    ok = {**sample_raw(), "matching": {"bank_charge_max": {"JPY": "5000.00", "XXX": "0.001"}}}
    assert from_mapping(ok, root=ROOT).matching.bank_charge_cents("JPY") == 500_000
    [problem] = problems_of({**sample_raw(), "gl_control_balance": "81048506.025"})
    assert problem == "gl_control_balance: 81048506.025 has more decimals than CNY allows (2)"


def test_params_and_their_sections_are_frozen():
    config = load_config(SAMPLE)
    with pytest.raises(ValidationError, match="frozen"):
        config.matching.date_window_days = 1
    with pytest.raises(ValidationError, match="frozen"):
        config.params.period = "2026-10"
    with pytest.raises(ValidationError, match="frozen"):
        AgingConfig().basis = "invoice_date"
    with pytest.raises(ValidationError, match="frozen"):
        config.params.inputs.invoices.path = Path("other.csv")


def test_stage_configs_built_in_code_say_the_same():
    with pytest.raises(ValidationError, match="'x' is not a number"):
        MatchConfig(bank_charge_max={"HKD": "x"})
    with pytest.raises(ValidationError, match="-1 must be from 0 to below 1"):
        ExceptionConfig(tax_rates=[-1])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AgingConfig(bucket=[])


# ------------------------------------------------------------------ resolved params
def test_resolved_params_are_a_params_file_of_the_same_run():
    config = load_config(SAMPLE)
    resolved = config.resolved()
    assert resolved["as_of"] == "2026-09-30"  # the default, filled in
    assert resolved["matching"] == MatchConfig().model_dump(mode="json")
    assert resolved["inputs"]["invoices"]["path"] == "data/sample/2026-09/invoices.csv"
    assert "params_file" not in resolved and "root" not in resolved
    again = from_mapping(resolved, root=ROOT)
    assert again.params == config.params
    assert again.resolved() == resolved


def test_differences_from_the_defaults():
    overrides = {"matching": {"date_window_days": 90}, "provision": {"opening_provision": 5}}
    config = load_config(SAMPLE, overrides)
    found = {key: (value, default) for key, value, default in differences(config.params)}
    assert found["matching.date_window_days"] == (90, 180)
    assert found["provision.opening_provision"] == ("5", None)
    assert found["entity"] == ("ACME-SH", None)
    assert found["gl_control_balance"] == ("81020739.4", None)
    assert found["columns.receipts.流水号"] == ("receipt_id", None)
    assert "as_of" not in found and "out_dir" not in found  # the sample's are the defaults
    assert "inputs.invoices.path" not in found  # the inputs are what a period gives
    table = params_changes(config)
    assert table.columns == ["parameter", "value", "default"]
    assert table.filter(table["parameter"] == "matching.date_window_days").row(0) == (
        "matching.date_window_days",
        "90",
        "180",
    )
    assert differences(Params.model_validate(config.resolved())) == differences(config.params)


# ------------------------------------------ refusals found by the independent corpus
@pytest.mark.parametrize(
    "section, values, expected",
    [
        (
            "matching",
            {"combined_max_nodes": -5},
            "matching.combined_max_nodes: -5 must be at least 1",
        ),
        ("matching", {"fuzzy_margin": -1}, "matching.fuzzy_margin: -1.0 must be between 0 and 1"),
        ("exceptions", {"late_min_count": -1}, "exceptions.late_min_count: -1 must be at least 1"),
        (
            "exceptions",
            {"bank_charge_tolerance_by_currency": {"HKD": 50}},
            "exceptions.bank_charge_tolerance_by_currency: set matching.bank_charge_max",
        ),
        ("exceptions", {"duplicate_line_keys": ["no_col"]}, "'no_col' is no receipt column"),
        ("kpis", {"trend_min_periods": 0}, "kpis.trend_min_periods: 0 must be at least 2"),
        ("tiers", {"rules": [["A", 30, 10]]}, "tiers.rules.0.2: 10 is below the tier's first day"),
        ("tiers", {"rules": [["A", 1, None], ["B", 1, 30]]}, "tiers 'B' and 'A' share day 1"),
        ("tiers", {"rules": [["A", 0, 30]]}, "tiers.rules.0.1: 0 must be at least 1"),
    ],
)
def test_settings_no_stage_can_mean_are_refused(section, values, expected):
    raw = sample_raw()
    raw[section] = {**(raw.get(section) or {}), **values}
    assert any(expected in p for p in problems_of(raw)), problems_of(raw)


def test_tiers_near_miss_contiguous_ranges_pass():
    raw = sample_raw()
    raw["tiers"] = {**(raw.get("tiers") or {}), "rules": [["A", 61, None], ["B", 1, 60]]}
    raw["tiers"]["actions"] = {"A": "call", "B": "email"}
    assert problems_or_none(raw) == []


def test_as_of_before_the_period_is_refused_and_after_it_accepted():
    raw = {**sample_raw(), "as_of": "2026-08-31"}
    assert any(p.startswith("as_of: 2026-08-31 is before the period") for p in problems_of(raw))
    assert problems_or_none({**sample_raw(), "as_of": "2026-10-05"}) == []


def test_a_key_given_twice_in_the_yaml_is_refused(tmp_path):
    text = (ROOT / "params" / "2026-09.yaml").read_text(encoding="utf-8") + "period: 2026-10\n"
    (tmp_path / "params").mkdir()
    path = write(tmp_path / "params" / "twice.yaml", text)
    with pytest.raises(ConfigError, match="key 'period' is given twice"):
        load_config(path)


def test_relative_paths_may_not_climb_out_of_the_project(tmp_path):
    raw = sample_raw()
    raw["inputs"] = {**raw["inputs"], "customers": "../../../etc/passwd"}
    raw["out_dir"] = "../escaped"
    found = problems_of(raw)
    assert any(p.startswith("inputs.customers: ../../../etc/passwd climbs out") for p in found)
    assert any(p.startswith("out_dir: '../escaped' climbs out") for p in found)


def test_a_symlink_loop_is_a_named_problem(tmp_path):
    raw = sample_raw()
    loop = ROOT / "data" / ".loop-test"
    try:
        loop.symlink_to(loop)
        raw["inputs"] = {**raw["inputs"], "customers": "data/.loop-test"}
        assert any(p.startswith("inputs.customers: cannot use the path") for p in problems_of(raw))
    finally:
        loop.unlink()


def test_a_discount_rate_is_refused_when_it_cannot_be_compared_exactly():
    """The exceptions compare discount rates as integers of 12 decimals: a rate with more
    is a params error naming it, not a failure in the middle of a close."""
    raw = sample_raw()
    raw["exceptions"] = {"discount_rates": ["0.0200000000000001"]}
    problems = problems_of(raw)
    assert any("discount_rates" in p and "more than 12 decimals" in p for p in problems), problems
    raw["exceptions"] = {"discount_rates": ["0.020000000001"]}  # 12 decimals: compared exactly
    assert from_mapping(raw, root=ROOT).exceptions.discount_rates == (D("0.020000000001"),)
