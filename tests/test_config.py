"""Params YAML → typed, frozen Config; every problem named by key, all at once."""

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
import yaml

import arlib.config
from arlib.config import (
    SECTIONS,
    Config,
    ConfigError,
    Params,
    from_mapping,
    load_config,
)
from arlib.paramtypes import Section
from tests.conftest import ROOT, write

SAMPLE = ROOT / "params" / "2026-09.yaml"


def sample_raw() -> dict:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def problems_of(raw: dict, root: Path = ROOT) -> list[str]:
    with pytest.raises(ConfigError) as info:
        from_mapping(raw, root=root)
    return info.value.problems


def params_file(tmp_path: Path, text: str) -> Path:
    """A params file in ``tmp_path/params/`` whose inputs point at the bundled sample."""
    for name in ("invoices.csv", "bank_statement.csv", "credit_notes.csv", "fx_rates.csv"):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_bytes(
            (ROOT / "data" / "sample" / "2026-09" / name).read_bytes()
        )
    (tmp_path / "data" / "customers.csv").write_bytes(
        (ROOT / "data" / "sample" / "customers.csv").read_bytes()
    )
    base = (
        "inputs:\n"
        "  invoices: data/invoices.csv\n"
        "  receipts: data/bank_statement.csv\n"
        "  customers: data/customers.csv\n"
    )
    return write(tmp_path / "params" / "p.yaml", base + text)


def test_sample_params_load_typed():
    config = load_config(SAMPLE)
    assert isinstance(config, Config)
    assert config.period == "2026-09"
    assert config.as_of == dt.date(2026, 9, 30)  # defaults to the period's last day
    assert isinstance(config.as_of, dt.date)
    assert (config.period_start, config.period_end) == (dt.date(2026, 9, 1), config.as_of)
    assert config.base_currency == "CNY"
    assert config.entity == "ACME-SH"
    assert config.root == ROOT
    for name in ("invoices", "receipts", "customers", "credit_notes", "fx_rates"):
        path = config.inputs[name].path
        assert isinstance(path, Path) and path.is_absolute() and path.is_file()
        assert path.is_relative_to(ROOT)
    assert config.inputs["invoices"].path == ROOT / "data/sample/2026-09/invoices.csv"
    assert config.inputs["receipts"].columns["流水号"] == "receipt_id"
    assert config.out_dir == ROOT / "outputs" / "2026-09"
    assert all(isinstance(getattr(config, name), Section) for name in SECTIONS)
    assert config.matching.date_window_days == 180
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.period = "2026-10"


def test_params_file_outside_params_folder_uses_its_own_folder(tmp_path):
    path = params_file(tmp_path, "period: 2026-09\n")
    config = load_config(path)
    assert config.root == tmp_path.resolve()
    assert config.inputs["invoices"].path == (tmp_path / "data" / "invoices.csv").resolve()


def test_unknown_top_level_key():
    problems = problems_of({**sample_raw(), "colour": "blue"})
    assert len(problems) == 1
    assert problems[0].startswith("colour: unknown key")


def test_unknown_section_key():
    problems = problems_of({**sample_raw(), "matching": {"colour": 1}})
    assert len(problems) == 1
    assert problems[0].startswith("matching.colour: unknown key")
    assert "date_window_days" in problems[0]  # the known keys are listed


def test_wrong_type_names_key():
    problems = problems_of({**sample_raw(), "matching": {"date_window_days": "ten"}})
    assert problems == ["matching.date_window_days: 'ten' is not an integer"]


def test_missing_required_input():
    raw = sample_raw()
    del raw["inputs"]["customers"]
    assert problems_of(raw) == ["inputs.customers: missing (required input)"]


def test_missing_inputs_section():
    raw = sample_raw()
    del raw["inputs"]
    assert any(p.startswith("inputs: missing") for p in problems_of(raw))


def test_missing_file_names_input_and_path():
    raw = sample_raw()
    raw["inputs"]["invoices"] = "data/sample/2026-09/nope.csv"
    [problem] = problems_of(raw)
    assert problem.startswith("inputs.invoices: file not found:")
    assert "nope.csv" in problem


def test_missing_opening_hints_to_close_previous_period():
    raw = sample_raw()
    raw["inputs"]["opening"] = "outputs/1999-01/open_items.parquet"
    [problem] = problems_of(raw)
    assert problem.startswith("inputs.opening: file not found")
    assert "close the previous period" in problem


def test_impossible_date_in_yaml_is_named(tmp_path):
    """``as_of: 2026-02-30`` is rejected by YAML's own date parser: still one named problem."""
    path = params_file(tmp_path, "period: 2026-02\nas_of: 2026-02-30\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("as_of: '2026-02-30' is not a valid date")


def test_impossible_date_from_mapping():
    problems = problems_of({**sample_raw(), "as_of": "2026-02-30"})
    assert problems == ["as_of: '2026-02-30' is not a valid date (expected YYYY-MM-DD)"]


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026", "Oct 2026"])
def test_bad_period(period):
    [problem] = problems_of({**sample_raw(), "period": period})
    assert problem.startswith(f"period: {period!r} is not a month")


def test_bad_period_in_yaml(tmp_path):
    path = params_file(tmp_path, "period: 2026-13\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [p.split(":")[0] for p in info.value.problems] == ["period"]


def test_all_problems_at_once(tmp_path):
    raw = sample_raw()
    raw.update(
        colour="blue",
        period="2026-13",
        as_of="2026-02-30",
        base_currency="XYZ",
        matching={"colour": 1, "date_window_days": "ten"},
    )
    del raw["inputs"]["customers"]
    raw["inputs"]["invoices"] = "missing.csv"
    with pytest.raises(ConfigError) as info:
        from_mapping(raw, root=ROOT, source="params/x.yaml")
    keys = [p.split(":")[0] for p in info.value.problems]
    assert set(keys) == {
        "colour",
        "period",
        "as_of",
        "base_currency",
        "inputs.customers",
        "inputs.invoices",
        "matching.colour",
        "matching.date_window_days",
    }
    message = str(info.value)
    assert message.startswith("params/x.yaml: 8 problem(s)")
    assert all(p in message for p in info.value.problems)


def test_papermill_strings_are_converted():
    raw = {**sample_raw(), "as_of": "2026-10-31", "matching": {"date_window_days": "30"}}
    config = from_mapping(raw, root=ROOT)
    assert config.as_of == dt.date(2026, 10, 31)
    assert config.matching.date_window_days == 30
    assert isinstance(config.matching.date_window_days, int)


def test_yaml_dates_and_strings_agree(tmp_path):
    a = load_config(params_file(tmp_path, "period: 2026-09\nas_of: 2026-09-15\n"))
    b = load_config(params_file(tmp_path, "period: '2026-09'\nas_of: '2026-09-15'\n"))
    assert a.as_of == b.as_of == dt.date(2026, 9, 15)
    assert a.period == b.period == "2026-09"


def test_entity_int_becomes_string():
    """``papermill -p entity 00123`` passes the int 123."""
    config = from_mapping({**sample_raw(), "entity": 123, "out_dir": None}, root=ROOT)
    assert config.entity == "123"
    assert config.out_dir == ROOT / "outputs" / "2026-09" / "123"


def test_entity_with_leading_zeros_in_yaml_stays_text(tmp_path):
    """YAML 1.1 reads ``00123`` as octal 83; an entity code keeps its zeros."""
    config = load_config(params_file(tmp_path, "period: 2026-09\nentity: 00123\n"))
    assert config.entity == "00123"


def test_columns_to_non_canonical_column_is_named():
    raw = {**sample_raw(), "columns": {"invoices": {"发票号": "invoice_no"}}}
    [problem] = problems_of(raw)
    assert problem.startswith("columns.invoices.发票号: 'invoice_no' is not a column of invoices")
    assert "invoice_id" in problem  # the canonical names are listed


def test_columns_for_unknown_input():
    raw = {**sample_raw(), "columns": {"bills": {"a": "invoice_id"}}}
    assert any(p.startswith("columns.bills: unknown input") for p in problems_of(raw))


def test_input_mapping_form_and_bad_format():
    raw = sample_raw()
    raw["inputs"]["invoices"] = {
        "path": "data/sample/2026-09/invoices.csv",
        "format": "dbf",
        "colour": "red",
    }
    keys = sorted(p.split(":")[0] for p in problems_of(raw))
    assert keys == ["inputs.invoices.colour", "inputs.invoices.format"]


def test_bad_yaml_and_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path / "bad.yaml", "period: [2026\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path / "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="params file not found"):
        load_config(tmp_path / "absent.yaml")


def test_opening_provision_must_fit_the_base_currency():
    raw = sample_raw()
    raw["provision"] = {"opening_provision": "431659.195"}
    assert problems_of(raw) == [
        "provision.opening_provision: 431659.195 has more decimals than CNY allows (2)"
    ]
    raw["provision"] = {"opening_provision": -5}
    assert problems_of(raw) == ["provision.opening_provision: -5 must not be negative"]
    raw["provision"] = {"opening_provision": "431659.19"}
    config = from_mapping(raw, root=ROOT)
    assert str(config.provision.opening_provision) == "431659.19"


def test_defaults_cover_every_key_with_its_description():
    defaults = yaml.safe_load(arlib.config.defaults_yaml())
    optional = [k for k, f in Params.model_fields.items() if not f.is_required()]
    assert set(defaults) == {*optional, "inputs.<name>", "connections.<name>"} - {
        "params_file",
        "root",
    }
    for name in SECTIONS:
        section = type(Params.model_fields[name].default)
        assert set(defaults[name]) == set(section.model_fields), name
        for field in section.model_fields.values():
            assert field.description, (name, field)
    assert defaults["matching"]["date_window_days"] == 180
    assert defaults["matching"]["rounding_tolerance"] == "0.05"  # exact, as text
    text = arlib.config.defaults_yaml()
    assert "  # without a reference, a near amount (exact_amount.tolerance / .fx) or an" in text


def test_documented_defaults_do_not_drift():
    documented = (ROOT / "docs" / "params-defaults.yaml").read_text(encoding="utf-8")
    assert documented == arlib.config.defaults_yaml(), (
        "docs/params-defaults.yaml is stale: regenerate it with "
        "`arlib defaults > docs/params-defaults.yaml`"
    )
