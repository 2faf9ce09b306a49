"""Collection letters' wording: jinja2 text templates, one per level and language.

Why files: the wording is the company's (its tone, its legal department's phrases), so
``arlib/templates/letter_<level>.<lang>.j2`` ship a polite-to-firm default and
``statements.template_dir`` names a folder of the company's own that is read first; a
template it lacks falls back to the shipped one. A template may use only
:data:`PLACEHOLDERS`: an unknown one is a params error naming the file (checked when the
params are read, so a close never stops half-way for a typo in a letter). The text is
plain: paragraphs are separated by a blank line, and each renderer (HTML, PDF) escapes it.
"""

from __future__ import annotations

import functools
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("zh", "en")
#: what a letter template may say, each filled by :func:`letter_values`
PLACEHOLDERS = frozenset(
    {
        "customer",
        "customer_id",
        "document_number",
        "statement_number",
        "issue_date",
        "as_of",
        "period",
        "overdue_count",
        "oldest_days",
        "overdue_amount",
        "disputed_count",
        "disputed_amount",
        "pending_count",
        "pending_amount",
        "reply_days",
        "sender",
        "contact",
        "bank",
    }
)


class TemplateProblem(ValueError):
    """A letter template that cannot be rendered, named by its file."""


def template_name(level: str, lang: str) -> str:
    return f"letter_{level}.{lang}.j2"


def template_names() -> list[str]:
    from arlib.dunning import LEVELS

    return [template_name(level, lang) for level in LEVELS for lang in LANGUAGES]


def check_folder(folder: Path) -> list[str]:
    """Problems of a company's template folder, each naming its file: a template that does
    not parse, or uses a placeholder that is not one of :data:`PLACEHOLDERS`."""
    import jinja2
    from jinja2 import meta

    env = _environment(None)
    problems = []
    for name in template_names():
        path = folder / name
        if not path.is_file():
            continue  # the shipped one is used
        try:
            source = path.read_text(encoding="utf-8")
            unknown = sorted(meta.find_undeclared_variables(env.parse(source)) - PLACEHOLDERS)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot be read: {exc}")
            continue
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{name}: line {exc.lineno}: {exc.message}")
            continue
        if unknown:
            problems.append(
                f"{name}: unknown placeholder {', '.join(repr(u) for u in unknown)} "
                f"(known: {', '.join(sorted(PLACEHOLDERS))})"
            )
    return problems


@functools.cache
def _environment(folder: Path | None):
    import jinja2

    loaders = [jinja2.FileSystemLoader(str(folder))] if folder else []
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([*loaders, jinja2.FileSystemLoader(str(SHIPPED))]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text: the renderers escape it
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_letter(folder: Path | None, level: str, lang: str, values: dict) -> list[str]:
    """The letter's paragraphs (lines inside a paragraph kept), from the company's folder
    when it has the template, else the shipped one."""
    import jinja2

    name = template_name(level, lang)
    env = _environment(folder)
    try:
        template = env.get_template(name)
        text = template.render(**values)
    except jinja2.TemplateError as exc:
        where = template_file(folder, name)
        raise TemplateProblem(f"{where}: {exc}") from None
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return [p for p in paragraphs if p]


def template_file(folder: Path | None, name: str) -> Path:
    """The file a template is read from: the company's when it has one."""
    if folder is not None and (folder / name).is_file():
        return folder / name
    return SHIPPED / name
