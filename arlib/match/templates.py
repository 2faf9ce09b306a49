"""Rule templates and presets: the engine's settings as named, described data (issue 10 §3).

A *template* (``arlib/presets/templates.yaml``) is a named bundle of ``matching:`` settings
with a line saying what it does and why its numbers are what they are: the switches of
``matching.rules`` it needs and the settings it sets. A *preset* (each other
``arlib/presets/<name>.yaml``) is a list of templates plus optional overrides, for a kind
of business; ``standard`` is exactly the defaults. A params file chooses them::

    matching:
      preset: strict_audit
      templates: [fx.bank_spread]   # extra templates, applied after the preset's
      date_window_days: 120         # any setting, over both

Resolution, each layer over the ones before it:

1. the defaults of :class:`~arlib.match.MatchConfig`; with a preset, ``rules`` starts
   empty: a preset runs exactly the switches its templates need;
2. the preset's templates in the preset's order, then the preset's overrides;
3. the extra ``templates``, in the order given;
4. the keys written in the params, each replacing whatever the layers set.

A template's mapping (``bank_charge_max: {HKD: 300}``) or list (``reference_patterns``, its
``rules``) adds to what the layers before it set; its other values replace. A preset's
overrides and the params' own keys replace whole values: ``bank_charge_max: {CNY: 30}``
written in the params is the whole cap table, as it is without a preset.

:func:`resolve` runs in MatchConfig's ``model_validator(mode="before")``, so every command
and notebook sees resolved settings, and ``preset`` / ``templates`` stay fields of the
resolved config: it records where it came from. Unknown names are left for the fields'
own validation, which refuses them listing the known ones (``matching.preset: 'x' is not a
known matching preset (known: standard, ...)``).
"""

from __future__ import annotations

import dataclasses
import functools
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

#: the folder of the library: templates.yaml and one <preset>.yaml per preset
LIBRARY = Path(__file__).resolve().parents[1] / "presets"
TEMPLATES_FILE = LIBRARY / "templates.yaml"
#: the fields of MatchConfig that choose templates rather than set a value
SELECTION = ("preset", "templates")


class LibraryError(ValueError):
    """The shipped library is inconsistent: a bug in arlib (tests/test_presets.py)."""


@dataclasses.dataclass(frozen=True)
class Template:
    """One rule template (see the module docstring)."""

    id: str
    description: str
    rules: tuple[str, ...] = ()  # switches of matching.rules it needs
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    covers: tuple[str, ...] = ()  # rules of the cascade it stands for beyond its settings

    @property
    def family(self) -> str:
        return self.id.partition(".")[0]


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named list of templates plus overrides, for a kind of business."""

    name: str
    description: str
    templates: tuple[str, ...]
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Layer:
    """One step of the resolution: who sets what, and whether it adds or replaces."""

    source: str  # "template fx.value_date", "preset strict_audit", "params"
    values: Mapping[str, Any]
    adds: bool  # mappings and lists add to what is there (templates)


def _read(path: Path, keys: set[str], required: set[str]) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise LibraryError(f"{path.name}: not a mapping")
    return _checked(data, path.name, keys, required)


def _checked(entry: Any, where: str, keys: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise LibraryError(f"{where}: not a mapping")
    if unknown := set(entry) - keys:
        raise LibraryError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(keys)})")
    if missing := required - set(entry):
        raise LibraryError(f"{where}: missing {sorted(missing)}")
    if not isinstance(entry.get("settings") or {}, dict) or not isinstance(
        entry.get("overrides") or {}, dict
    ):
        raise LibraryError(f"{where}: settings / overrides must be mappings")
    return entry


def _words(text: Any) -> str:
    return " ".join(str(text).split())


@functools.cache
def templates() -> dict[str, Template]:
    """Every template of ``templates.yaml`` by id, in the file's order."""
    data = _read(TEMPLATES_FILE, {"templates"}, {"templates"})
    out: dict[str, Template] = {}
    for n, entry in enumerate(data["templates"] or []):
        where = f"{TEMPLATES_FILE.name}: template {n + 1}"
        keys = {"id", "description", "rules", "settings", "covers"}
        entry = _checked(entry, where, keys, {"id", "description"})
        tid = str(entry["id"])
        if tid in out:
            raise LibraryError(f"{where}: id {tid!r} is given twice")
        out[tid] = Template(
            id=tid,
            description=_words(entry["description"]),
            rules=tuple(entry.get("rules") or ()),
            settings=dict(entry.get("settings") or {}),
            covers=tuple(entry.get("covers") or ()),
        )
    return out


@functools.cache
def presets() -> dict[str, Preset]:
    """Every preset by name (``standard`` first, then the others by name)."""
    known = templates()
    files = sorted(p for p in LIBRARY.glob("*.yaml") if p != TEMPLATES_FILE)
    files.sort(key=lambda p: p.stem != "standard")
    out: dict[str, Preset] = {}
    for path in files:
        data = _read(path, {"description", "templates", "overrides"}, {"description", "templates"})
        names = tuple(str(t) for t in data["templates"] or ())
        if unknown := [t for t in names if t not in known]:
            raise LibraryError(f"{path.name}: unknown template(s) {unknown}")
        if set(data.get("overrides") or {}) & set(SELECTION):
            raise LibraryError(f"{path.name}: overrides may not choose presets or templates")
        out[path.stem] = Preset(
            name=path.stem,
            description=_words(data["description"]),
            templates=names,
            overrides=dict(data.get("overrides") or {}),
        )
    return out


TEMPLATE_IDS: tuple[str, ...] = tuple(templates())
PRESET_NAMES: tuple[str, ...] = tuple(presets())


@functools.cache
def _check_fields(model: type) -> None:
    """Every template and override names a setting of ``model`` and known switches (the
    values are checked by tests/test_presets.py, which validates each template)."""
    fields = set(model.model_fields) - set(SELECTION) - {"rules"}
    switches = set(model.model_fields["rules"].default)
    for t in templates().values():
        if unknown := set(t.settings) - fields:
            raise LibraryError(f"template {t.id}: {sorted(unknown)} are no matching settings")
        if unknown := set(t.rules) - switches:
            raise LibraryError(f"template {t.id}: {sorted(unknown)} are no matching rules")
    for p in presets().values():
        if unknown := set(p.overrides) - fields - {"rules"}:
            raise LibraryError(f"preset {p.name}: {sorted(unknown)} are no matching settings")


def chosen_preset(data: Mapping[str, Any]) -> Preset | None:
    name = data.get("preset")
    return presets().get(name) if isinstance(name, str) else None


def chosen_templates(data: Mapping[str, Any]) -> list[Template]:
    """The extra templates of ``data`` that exist (the others are refused by the field)."""
    extra = data.get("templates")
    if not isinstance(extra, list | tuple):
        return []
    known = templates()
    return [known[t] for t in extra if isinstance(t, str) and t in known]


def layers(data: Mapping[str, Any]) -> list[Layer]:
    """The layers the selection of ``data`` (its preset and templates) stands for, in
    order, without the params' own keys."""
    preset, out = chosen_preset(data), []
    if preset is not None:
        for tid in preset.templates:
            out.append(_template_layer(templates()[tid]))
        if preset.overrides:
            out.append(Layer(f"preset {preset.name}", preset.overrides, adds=False))
    out += [_template_layer(t) for t in chosen_templates(data)]
    return out


def _template_layer(t: Template) -> Layer:
    return Layer(f"template {t.id}", {**t.settings, "rules": list(t.rules)}, adds=True)


def _layered(data: Mapping[str, Any], model: type) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The values the layers of ``data`` set (defaults below them where they add), and per
    value the sources it came from, in order."""
    _check_fields(model)
    fields = model.model_fields
    order = list(fields["rules"].default)
    values: dict[str, Any] = {}
    chains: dict[str, list[str]] = {}
    if chosen_preset(data) is not None:
        values["rules"] = []
        chains["rules"] = [f"preset {data['preset']}"]
    for layer in layers(data):
        for name, value in layer.values.items():
            if name == "rules" and layer.adds and not value:
                continue  # a template needing no switch leaves the rules alone
            current = values.get(name, fields[name].default)
            if layer.adds and _adds(current, value):
                if name not in values:  # a mapping or list added to: the defaults below
                    chains[name] = ["default"]
                values[name] = _added(current, value)
                if name != "rules" or values[name] != list(current):  # a new switch
                    chains.setdefault(name, []).append(layer.source)
            else:
                values[name] = value
                chains[name] = [layer.source]
    if isinstance(values.get("rules"), list):  # the order of execution is fixed anyway
        values["rules"] = sorted(values["rules"], key=lambda r: order.index(r))
    return values, chains


def _adds(current: Any, value: Any) -> bool:
    """Whether a template's ``value`` adds to ``current`` (mappings, lists) or replaces it."""
    return (isinstance(current, Mapping) and isinstance(value, Mapping)) or (
        isinstance(current, list | tuple) and isinstance(value, list | tuple)
    )


def _added(current: Any, value: Any) -> Any:
    if isinstance(current, Mapping):
        return {**current, **value}
    return [*current, *(v for v in value if v not in current)]


def resolve(data: Any, model: type) -> Any:
    """``data`` (a ``matching:`` mapping) with its preset and templates applied: the
    mapping MatchConfig's fields are then validated from (see the module docstring)."""
    if not isinstance(data, Mapping) or not any(data.get(k) for k in SELECTION):
        return data
    values, _ = _layered(data, model)
    return {**values, **data}  # the params' own keys (and the selection) over the layers


# ------------------------------------------------------------------ what was resolved
def applied(cfg: Any) -> list[str]:
    """The ids of the templates ``cfg`` resolved from, in the order applied."""
    preset = presets().get(cfg.preset) if cfg.preset else None
    return [*(preset.templates if preset else ()), *cfg.templates]


def set_by(cfg: Any, written: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
    """Per setting of ``cfg``, what set its value: ``["default"]``, the templates (and
    preset) in order, or ``["params"]`` for a key written in the params (``written``, the
    ``matching:`` mapping as given) or a value the selection alone does not give."""
    model = type(cfg)
    selection = {k: getattr(cfg, k) for k in SELECTION}
    _, chains = _layered(selection, model)
    alone = model.model_validate(selection)
    given = set(written) if isinstance(written, Mapping) else set()
    out = {}
    for name in model.model_fields:
        if name in SELECTION:
            continue
        if name in given or getattr(cfg, name) != getattr(alone, name):
            out[name] = ["params"]
        else:
            out[name] = chains.get(name, ["default"])
    return out


def settings_of(cfg: Any) -> dict[str, Any]:
    """The resolved settings of ``cfg`` as JSON, without the selection fields."""
    return cfg.model_dump(mode="json", exclude=set(SELECTION))


def explained_by(cfg: Any) -> list[str]:
    """The templates that explain ``cfg``'s settings: those applied, and with no preset
    the templates of ``standard`` before the extra ones (the defaults are exactly what
    standard's templates set)."""
    if cfg.preset:
        return applied(cfg)
    return [*presets()["standard"].templates, *cfg.templates]


def cascade_rows(cfg: Any) -> list[dict[str, Any]]:
    """Per rule of the cascade, in order: its id, switch, whether it runs, what it does
    and the templates (of :func:`explained_by`) that set it: set a setting it reads, or
    name it among the rules they stand for (``covers``)."""
    from arlib.match.rules import CASCADE

    chosen = [templates()[t] for t in explained_by(cfg)]
    rows = []
    for rule in CASCADE:
        names = [
            t.id for t in chosen if set(t.settings) & set(rule.settings) or rule.id in t.covers
        ]
        rows.append(
            {
                "rule": rule.id,
                "switch": rule.switch or "(always on)",
                "on": rule.switch is None or rule.switch in cfg.rules,
                "description": rule.description,
                "templates": ", ".join(dict.fromkeys(names)),
            }
        )
    return rows


def record(cfg: Any, written: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the manifest keeps of the matching settings: the preset and templates chosen,
    every template applied in order, what set each setting, the resolved settings, and
    the cascade with each rule's switch and templates."""
    preset = presets().get(cfg.preset) if cfg.preset else None
    return {
        "preset": cfg.preset,
        "preset_templates": list(preset.templates) if preset else [],
        "preset_overrides": sorted(preset.overrides) if preset else [],
        "templates": list(cfg.templates),
        "applied_templates": applied(cfg),
        "written_in_params": sorted(
            k for k in (written if isinstance(written, Mapping) else {}) if k not in SELECTION
        ),
        "set_by": set_by(cfg, written),
        "settings": settings_of(cfg),
        "cascade": cascade_rows(cfg),
    }


# ------------------------------------------------------------------ text for people
def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _wrapped(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(text, width=96, initial_indent=indent, subsequent_indent=indent)


def selection_text(cfg: Any, written: Mapping[str, Any] | None = None) -> str:
    """The head of ``arlib rules``: the preset and templates applied, and each setting not
    at its default with what set it."""
    lines = []
    if cfg.preset:
        preset = presets()[cfg.preset]
        lines.append(f"matching preset: {preset.name}")
        lines += _wrapped(preset.description)
        lines += _wrapped(f"its templates, in order: {', '.join(preset.templates)}", "  ")
        if preset.overrides:
            lines.append(f"  its overrides: {_shown(dict(preset.overrides))}")
    else:
        lines.append("matching preset: none (the defaults: the same settings as preset standard)")
    lines.append(f"extra templates: {', '.join(cfg.templates) if cfg.templates else 'none'}")
    default = type(cfg)()
    sources = set_by(cfg, written)
    changed = [
        name
        for name in type(cfg).model_fields
        if name not in SELECTION and getattr(cfg, name) != getattr(default, name)
    ]
    if changed:
        lines.append("settings not at their defaults, and what set them:")
        for name in changed:
            lines.append(f"  {name} = {_shown(getattr(cfg, name))}  ({', '.join(sources[name])})")
    else:
        lines.append("every setting at its default")
    return "\n".join(lines) + "\n"


def catalogue_text() -> str:
    """``arlib templates``: every template and preset, with what it does and sets."""
    known = templates()
    lines = [
        f"{len(known)} rule templates ({TEMPLATES_FILE.relative_to(LIBRARY.parent.parent)}); "
        "choose them in params with matching: {preset: NAME, templates: [ID, ...]}",
        "the rounding tolerance, bank-charge caps and fx tolerance they set are the "
        "exceptions' tolerances too",
    ]
    family = None
    for t in known.values():
        if t.family != family:
            family = t.family
            lines.append("")
        need = f"  [rules: {', '.join(t.rules)}]" if t.rules else ""
        lines.append(f"{t.id}{need}")
        lines += _wrapped(t.description)
        sets = [f"{k} = {_shown(v)}" for k, v in t.settings.items()] or ["no setting"]
        lines += [f"    {'sets:' if n == 0 else '     '} {line}" for n, line in enumerate(sets)]
        if t.covers:
            lines.append(f"    stands for the rule(s): {', '.join(t.covers)}")
    lines += ["", f"{len(presets())} presets (arlib/presets/<name>.yaml):"]
    for p in presets().values():
        lines += ["", p.name]
        lines += _wrapped(p.description)
        lines += _wrapped(f"templates: {', '.join(p.templates)}")
        if p.overrides:
            lines.append(f"    overrides: {_shown(dict(p.overrides))}")
    return "\n".join(lines) + "\n"
