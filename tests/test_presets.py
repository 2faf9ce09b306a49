"""Rule templates and presets (issue 10 §3): the library is valid data, ``standard`` is the
defaults, resolution follows its order (defaults, preset's templates, preset's overrides,
extra templates, the params' own keys), unknown names are params errors listing the known
ones, and the resolved rule set reaches ``arlib rules``, the manifest and notebook 02."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from arlib import cli
from arlib.close import run_close
from arlib.config import ConfigError, Params, from_mapping, load_config, read_params
from arlib.match import ALL_RULES, CASCADE, MatchConfig
from arlib.match.templates import (
    PRESET_NAMES,
    SELECTION,
    TEMPLATE_IDS,
    TEMPLATES_FILE,
    applied,
    cascade_rows,
    presets,
    record,
    set_by,
    settings_of,
    templates,
)
from tests.conftest import ROOT, fake_notebooks

SETTINGS = tuple(k for k in MatchConfig.model_fields if k not in SELECTION)
SAMPLE = ROOT / "params" / "2026-09.yaml"


def sample_raw(**matching) -> dict:
    raw = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    return {**raw, "matching": matching}


def problems(**matching) -> list[str]:
    with pytest.raises(ConfigError) as info:
        from_mapping(sample_raw(**matching), root=ROOT)
    return info.value.problems


def settings(cfg: MatchConfig) -> dict:
    return settings_of(cfg)


# ------------------------------------------------------------------ the library
def test_at_least_twenty_templates_with_the_families_the_issue_names():
    ids = set(TEMPLATE_IDS)
    assert len(ids) >= 20
    for wanted in (
        "reference.invoice_number",
        "reference.chinese_fapiao",
        "tolerance.rounding_cents",
        "bank_charge.cny_wire",
        "bank_charge.hkd_wire",
        "bank_charge.sepa",
        "discount.terms",
        "fx.value_date",
        "combined.up_to_5",
        "instalment.announced",
        "balance_forward.oldest_first",
        "credit_note.netting",
        "third_party.related_companies",
        "duplicates.guard",
        "suggestions.near_amount",
    ):
        assert wanted in ids
    assert all(re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", t) for t in ids)


@pytest.mark.parametrize("tid", TEMPLATE_IDS)
def test_every_template_names_only_real_settings_with_valid_values(tid):
    """Each setting is a field of MatchConfig, each switch a rule, each value valid alone,
    and applying the template gives each scalar setting exactly its value."""
    t = templates()[tid]
    assert set(t.settings) <= set(SETTINGS) - {"rules"}, tid
    assert set(t.rules) <= set(ALL_RULES), tid
    assert set(t.covers) <= {rule.id for rule in CASCADE}, tid
    # a line an AR manager reads, saying why (a sentence, not a word)
    assert len(t.description.split()) >= 12 and "\n" not in t.description
    alone = MatchConfig.model_validate(dict(t.settings))  # valid values, as written
    cfg = MatchConfig(templates=[tid])
    for name, value in t.settings.items():
        if isinstance(value, dict):  # adds to the defaults' mapping
            assert {k: getattr(cfg, name)[k] for k in value} == getattr(alone, name)
        elif isinstance(value, list):  # adds to the defaults' list
            assert set(getattr(alone, name)) <= set(getattr(cfg, name))
        else:
            assert getattr(cfg, name) == getattr(alone, name), (tid, name)


def test_the_presets_the_issue_names_exist_each_with_a_description():
    for wanted in ("strict_audit", "standard", "high_volume_retail", "cross_border"):
        assert wanted in PRESET_NAMES
    assert "balance_forward" in PRESET_NAMES
    assert PRESET_NAMES[0] == "standard"
    files = {p.stem for p in TEMPLATES_FILE.parent.glob("*.yaml")} - {"templates"}
    assert files == set(PRESET_NAMES)
    for p in presets().values():
        assert len(p.description.split()) >= 15 and p.templates
        assert set(p.templates) <= set(TEMPLATE_IDS)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_each_preset_resolves_and_validates_in_a_params_file(name):
    config = from_mapping(sample_raw(preset=name), root=ROOT)
    cfg = config.matching
    assert cfg.preset == name and cfg.templates == ()
    assert applied(cfg) == list(presets()[name].templates)
    # a preset runs exactly the switches its templates need
    needed = {r for t in presets()[name].templates for r in templates()[t].rules}
    assert set(cfg.rules) == needed and list(cfg.rules) == [r for r in ALL_RULES if r in needed]
    # the resolved config validates again to itself (the manifest's params_resolved reload)
    assert MatchConfig.model_validate(cfg.model_dump()) == cfg
    assert MatchConfig.model_validate(cfg.model_dump(mode="json")) == cfg
    assert Params.model_validate(config.resolved()).matching == cfg


# ------------------------------------------------------------------ standard is the defaults
def test_preset_standard_is_exactly_the_defaults():
    assert settings(MatchConfig(preset="standard")) == settings(MatchConfig())
    for name in SETTINGS:
        assert getattr(MatchConfig(preset="standard"), name) == getattr(MatchConfig(), name)
    # ... and every default is named by a template of standard (none is left unexplained)
    sources = set_by(MatchConfig(preset="standard"))
    assert [k for k, v in sources.items() if v == ["default"]] == []
    # no preset, or extra templates on no preset, layer on the same defaults
    assert settings(MatchConfig(templates=["bank_charge.cny_wire"])) == settings(MatchConfig())
    assert set_by(MatchConfig()) == dict.fromkeys(SETTINGS, ["default"])


def test_a_close_on_preset_standard_matches_as_on_the_defaults():
    from arlib import pipeline

    plain = pipeline.match_stage(load_config(SAMPLE), None)
    standard = pipeline.match_stage(load_config(SAMPLE, {"matching": {"preset": "standard"}}), None)
    assert standard.allocations.equals(plain.allocations)
    assert standard.receipts.equals(plain.receipts)


# ------------------------------------------------------------------ the order of resolution
def test_strict_audit_known_answers():
    cfg = MatchConfig(preset="strict_audit")
    assert "balance_forward" not in cfg.rules  # no oldest-first auto-apply
    assert cfg.rules == tuple(r for r in ALL_RULES if r != "balance_forward")
    assert cfg.rounding_tolerance == D("0.01")
    assert (cfg.reference_min_digits, cfg.reference_short_own) == (6, False)
    assert (cfg.fuzzy_auto_threshold, cfg.fuzzy_margin, cfg.fuzzy_suggest_threshold) == (
        0.93,
        0.1,
        0.8,
    )
    assert (cfg.fx_tolerance_pct, cfg.fx_max_rate_age_days) == (D("1"), 3)
    assert (cfg.combined_max_invoices, cfg.combined_max_candidates) == (3, 20)
    assert (cfg.date_window_days, cfg.date_window_prepay_days) == (90, 7)
    # the preset's overrides come after its templates: bank_charge.whole_units says 10
    assert cfg.bank_charge_max_pct == D("5") and cfg.suggest_max_candidates == 8
    assert cfg.bank_charge_whole_units is True
    sources = set_by(cfg)
    assert sources["bank_charge_max_pct"] == ["preset strict_audit"]
    assert sources["rounding_tolerance"] == ["template tolerance.one_cent"]


def test_extra_templates_come_after_the_preset_in_their_order():
    base = MatchConfig(preset="strict_audit")
    spread = MatchConfig(preset="strict_audit", templates=["fx.bank_spread"])
    assert (spread.fx_tolerance_pct, spread.fx_max_rate_age_days) == (D("3"), 7)
    # everything else is the preset's
    assert {k: v for k, v in settings(spread).items() if v != settings(base)[k]} == {
        "fx_tolerance_pct": "3",
        "fx_max_rate_age_days": 7,
    }
    # later templates win on the same setting
    both = MatchConfig(preset="strict_audit", templates=["fx.bank_spread", "fx.fresh_rates"])
    other = MatchConfig(preset="strict_audit", templates=["fx.fresh_rates", "fx.bank_spread"])
    assert both.fx_tolerance_pct == D("1") and other.fx_tolerance_pct == D("3")
    # an extra template comes after the preset's overrides too
    again = MatchConfig(preset="strict_audit", templates=["bank_charge.whole_units"])
    assert again.bank_charge_max_pct == D("10")
    # an extra template turns on the switch it needs
    on = MatchConfig(preset="strict_audit", templates=["balance_forward.oldest_first"])
    assert on.rules == ALL_RULES
    assert applied(on) == [*presets()["strict_audit"].templates, "balance_forward.oldest_first"]


def test_keys_written_in_the_params_come_last_key_by_key():
    cfg = MatchConfig(preset="strict_audit", templates=["fx.bank_spread"], fx_tolerance_pct="2.5")
    assert cfg.fx_tolerance_pct == D("2.5") and cfg.fx_max_rate_age_days == 7
    assert set_by(cfg, {"fx_tolerance_pct": "2.5"})["fx_tolerance_pct"] == ["params"]
    # without the written keys, a value the selection does not give is still "params"
    assert set_by(cfg)["fx_tolerance_pct"] == ["params"]
    # the rules written replace the preset's
    assert MatchConfig(preset="cross_border", rules=["reference"]).rules == ("reference",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("date_window_days", 45),
        ("rounding_tolerance", "0.02"),
        ("fuzzy_margin", 0.2),
        ("reference_short_own", True),
        ("suggest_max_candidates", 2),
        ("bank_charge_max", {"CNY": "20"}),
    ],
)
@pytest.mark.parametrize("preset", ["strict_audit", "high_volume_retail", "cross_border"])
def test_one_key_overrides_one_setting_and_nothing_else(preset, name, value):
    base = settings(MatchConfig(preset=preset))
    changed = settings(MatchConfig.model_validate({"preset": preset, name: value}))
    assert {k for k in base if base[k] != changed[k]} <= {name}
    assert changed[name] == settings(MatchConfig.model_validate({name: value}))[name]


def test_templates_add_to_mappings_and_lists_written_keys_replace_them():
    defaults = MatchConfig().bank_charge_max
    sepa = MatchConfig(preset="cross_border", templates=["bank_charge.sepa"])
    assert sepa.bank_charge_max == {**defaults, "EUR": D("0")}
    # written in the params, a mapping is the whole value, as without a preset
    assert MatchConfig(preset="cross_border", bank_charge_max={"CNY": 30}).bank_charge_max == {
        "CNY": D("30")
    }
    fapiao = MatchConfig(preset="china_domestic")
    assert fapiao.reference_patterns == (
        *MatchConfig().reference_patterns,
        *templates()["reference.chinese_fapiao"].settings["reference_patterns"],
    )
    assert set_by(sepa)["bank_charge_max"] == [
        "default",
        "template bank_charge.cny_wire",
        "template bank_charge.hkd_wire",
        "template bank_charge.swift",
        "template bank_charge.jpy_wire",
        "template bank_charge.other_currencies_none",
        "template bank_charge.sepa",
    ]


def test_high_volume_retail_and_cross_border_known_answers():
    retail = MatchConfig(preset="high_volume_retail")
    assert retail.rounding_tolerance == D("1")
    assert (retail.combined_max_invoices, retail.combined_max_nodes) == (8, 5000)
    assert (retail.suggest_near_pct, retail.suggest_max_candidates) == (D("5"), 3)
    assert retail.rules == ALL_RULES
    cross = MatchConfig(preset="cross_border")
    assert (cross.fx_tolerance_pct, cross.date_window_days, cross.date_window_prepay_days) == (
        D("3"),
        365,
        60,
    )
    bf = MatchConfig(preset="balance_forward")
    assert "balance_forward" in bf.rules and bf.combined_max_invoices == 8


# ------------------------------------------------------------------ unknown names
def test_unknown_names_are_params_errors_listing_the_known_ones():
    [preset] = problems(preset="strictest")
    assert preset == (
        "matching.preset: 'strictest' is not a known matching preset "
        f"(known: {', '.join(PRESET_NAMES)})"
    )
    found = problems(preset="standard", templates=["fx.value_date", "fx.spot"])
    assert found == [
        f"matching.templates.1: 'fx.spot' is not a known rule template "
        f"(known: {', '.join(TEMPLATE_IDS)})"
    ]
    # wrong shapes are named too, never a traceback
    assert problems(preset=5)[0].startswith("matching.preset: 5 is not a known matching preset")
    assert problems(preset=["standard"])[0].startswith("matching.preset: ['standard'] is not")
    not_a_list = "matching.templates: 'fx.value_date' is not a list"
    assert problems(templates="fx.value_date") == [not_a_list]
    assert problems(templates=[["fx.value_date"]])[0].startswith("matching.templates.0: ")
    # null is no preset
    assert from_mapping(sample_raw(preset=None), root=ROOT).matching == MatchConfig()


def test_arlib_validate_reports_an_unknown_preset_with_exit_2(tmp_path):
    raw = sample_raw(preset="retail")
    for name, spec in raw["inputs"].items():
        raw["inputs"][name] = str(ROOT / spec)
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "arlib.cli", "validate", "--params", str(params)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "matching.preset: 'retail' is not a known matching preset (known: standard," in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ what is shown and kept
def test_arlib_rules_shows_the_preset_and_templates_at_its_top(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(
        "period: 2026-10\nmatching:\n  preset: strict_audit\n  templates: [fx.bank_spread]\n"
        "  date_window_days: 120\n",
        encoding="utf-8",
    )
    assert cli.main(["rules", "--params", str(params)]) == 0
    out = capsys.readouterr().out
    head, _, cascade = out.partition("rules, walked in this order")
    assert head.startswith("matching preset: strict_audit\n")
    first = "credit_note.netting, credit_note.unnamed_netting, manual.decisions,"
    assert f"its templates, in order: {first}" in head
    assert "extra templates: fx.bank_spread\n" in head
    assert "  date_window_days = 120  (params)\n" in head
    assert "  fx_tolerance_pct = 3  (template fx.bank_spread)\n" in head
    assert "  bank_charge_max_pct = 5  (preset strict_audit)\n" in head
    assert "balance_forward  [switch balance_forward: OFF]" in cascade
    assert cli.main(["rules"]) == 0
    assert capsys.readouterr().out.startswith(
        "matching preset: none (the defaults: the same settings as preset standard)\n"
        "extra templates: none\nevery setting at its default\n"
    )


def test_arlib_templates_lists_every_template_and_preset(capsys):
    assert cli.main(["templates"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(TEMPLATE_IDS)} rule templates (arlib/presets/templates.yaml)")
    listed = re.findall(r"(?m)^([a-z_]+\.[a-z0-9_]+)(?:  \[rules: [a-z_, ]+\])?$", out)
    assert listed == list(TEMPLATE_IDS)
    assert "    sets: rounding_tolerance = 0.05\n" in out
    presets_part = out.partition(f"{len(PRESET_NAMES)} presets")[2]
    assert re.findall(r"(?m)^([a-z_]+)$", presets_part) == list(PRESET_NAMES)
    assert "    overrides: {bank_charge_max_pct: 5, suggest_max_candidates: 8}\n" in presets_part


def test_cascade_rows_name_the_templates_that_set_each_rule():
    cfg = MatchConfig(preset="strict_audit", templates=["fx.bank_spread"])
    rows = {r["rule"]: r for r in cascade_rows(cfg)}
    assert list(rows) == [rule.id for rule in CASCADE]
    assert rows["balance_forward"]["on"] is False and rows["balance_forward"]["templates"] == ""
    assert rows["credit_note"]["templates"] == "credit_note.netting"
    assert rows["duplicate"]["switch"] == "(always on)"
    assert rows["duplicate"]["templates"] == "duplicates.guard"
    fx = rows["exact_amount.fx"]["templates"].split(", ")
    assert "fx.fresh_rates" in fx and fx[-1] == "fx.bank_spread" and "window.quarter" in fx
    assert "payer.fuzzy_strict" in rows["suggestions"]["templates"]
    # no preset: the defaults are explained by standard's templates (they are its settings)
    plain = {r["rule"]: r for r in cascade_rows(MatchConfig(templates=["bank_charge.sepa"]))}
    assert plain["credit_note"]["templates"] == "credit_note.netting"
    assert plain["balance_forward"]["templates"] == "balance_forward.oldest_first"
    assert plain["exact_amount.tolerance"]["templates"].endswith("bank_charge.sepa")
    assert applied(MatchConfig(templates=["bank_charge.sepa"])) == ["bank_charge.sepa"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    shutil.copy2(SAMPLE, root / "params")
    shutil.copytree(ROOT / "data" / "sample" / "2026-09", root / "data" / "sample" / "2026-09")
    shutil.copy2(ROOT / "data" / "sample" / "customers.csv", root / "data" / "sample")
    (root / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    return root


def test_the_manifest_records_the_resolved_rule_set(project, monkeypatch):
    fake_notebooks(monkeypatch)
    path = project / "params" / "2026-09.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "matching:\n  preset: cross_border\n  templates: [bank_charge.sepa]\n"
        + "  date_window_days: 200\n",
        encoding="utf-8",
    )
    out = run_close(path, progress=False)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    kept = manifest["matching"]
    config = load_config(path)
    assert kept == json.loads(json.dumps(record(config.matching, config.raw["matching"])))
    assert kept["preset"] == "cross_border" and kept["templates"] == ["bank_charge.sepa"]
    assert kept["applied_templates"] == [*presets()["cross_border"].templates, "bank_charge.sepa"]
    assert kept["written_in_params"] == ["date_window_days"]
    assert kept["set_by"]["date_window_days"] == ["params"]
    assert kept["set_by"]["fx_tolerance_pct"] == ["template fx.bank_spread"]
    assert kept["set_by"]["bank_charge_max"][-1] == "template bank_charge.sepa"
    assert kept["settings"]["date_window_days"] == 200
    assert kept["settings"]["bank_charge_max"]["EUR"] == "0"
    resolved = manifest["params_resolved"]["matching"]
    assert {k: v for k, v in resolved.items() if k not in SELECTION} == kept["settings"]
    assert (resolved["preset"], resolved["templates"]) == ("cross_border", ["bank_charge.sepa"])
    assert [r["rule"] for r in kept["cascade"]] == [rule.id for rule in CASCADE]
    # the resolved params reload to the same settings
    assert Params.model_validate(manifest["params_resolved"]).matching == config.matching
    assert read_params(path)[0]["matching"]["preset"] == "cross_border"


def test_notebook_02_shows_the_cascade_table():
    import scripts.build_notebooks as builder
    from arlib import notebook as nb

    source = "\n".join(cell.source for cell in builder.NB02)
    assert "nb.rule_set_prose(config)" in source and "nb.cascade_table(config)" in source
    config = load_config(SAMPLE, {"matching": {"preset": "strict_audit", "date_window_days": 60}})
    table = nb.cascade_table(config)
    assert table.columns == ["rule", "switch", "runs", "description", "templates"]
    assert table.height == len(CASCADE)
    assert table.filter(table["rule"] == "balance_forward")["runs"].to_list() == ["OFF"]
    prose = nb.rule_set_prose(config)
    count = len(presets()["strict_audit"].templates)
    assert prose.startswith(f"Matching preset **strict_audit** ({count} rule templates): ")
    assert "Written in the params over both: date_window_days." in prose
    assert nb.rule_set_prose(load_config(SAMPLE)).startswith("No matching preset: ")


def test_the_schema_offers_the_presets_and_templates_to_editors():
    from arlib.config import json_schema

    schema = json_schema()["$defs"]["MatchConfig"]["properties"]
    assert schema["preset"]["anyOf"][0]["enum"] == list(PRESET_NAMES)
    assert schema["templates"]["items"]["enum"] == list(TEMPLATE_IDS)


def test_exceptions_judge_with_the_tolerances_the_preset_resolved(tmp_path):
    """Matching and exceptions share one home for tolerances (the matching section), so a
    preset's rounding, bank-charge caps and fx tolerance reach the exceptions too: through
    load_config, as every command reads a params file."""
    raw = sample_raw(preset="strict_audit", templates=["bank_charge.sepa"])
    raw["inputs"] = {k: str(ROOT / v) for k, v in raw["inputs"].items()}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_config(path)
    m, x = config.matching, config.exceptions
    assert (m.rounding_tolerance, x.rounding_tolerance) == (D("0.01"), D("0.01"))
    assert (m.fx_tolerance_pct, x.fx_tolerance_pct) == (D("1"), D("1"))
    assert m.bank_charge_max["EUR"] == x.bank_charge_tolerance_by_currency["EUR"] == D("0")
    assert m.bank_charge_max["HKD"] == x.bank_charge_tolerance_by_currency["HKD"] == D("300")
    assert x.bank_charge_tolerance == m.bank_charge_max["*"] == D("0")
    # the defaults differ, so the values above came from the preset and its template
    plain = load_config(SAMPLE)
    assert plain.exceptions.rounding_tolerance == D("0.05")
    assert plain.exceptions.fx_tolerance_pct == D("2")
    assert plain.exceptions.bank_charge_tolerance_by_currency["EUR"] == D("50")
    # another preset's rounding (抹零, ¥1), and a key written over a preset, reach both
    high = load_config(SAMPLE, {"matching": {"preset": "high_volume_retail"}})
    assert high.matching.rounding_tolerance == high.exceptions.rounding_tolerance == D("1")
    written = {"preset": "strict_audit", "rounding_tolerance": "0.02"}
    own = load_config(SAMPLE, {"matching": written})
    assert own.matching.rounding_tolerance == own.exceptions.rounding_tolerance == D("0.02")
