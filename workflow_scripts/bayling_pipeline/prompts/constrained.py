"""Lexically constrained translation prompts: BayLing's translation prompt plus a line that
lists the terms the translation must contain, written in English or in Chinese.

Used by :mod:`bayling_pipeline.constrained.translate`. The wording is that of BayLing's
``scripts/constrained_translate.py`` (its ``--instruction-lang en`` and ``zh``): the source
sentence (trailing newlines stripped), then the constraint terms joined by ", ". As in the
project's translation templates (:mod:`bayling_pipeline.prompts.templates`), the target
language is named in the instruction's own language ("English", "简体中文"); BayLing's
script takes that name from its ``--tgt-lang`` argument instead.

Change a template's text only together with its ``version``: every output records
``"<id>@v<version>"``.
"""

from __future__ import annotations

from bayling_pipeline.prompts.templates import CHINESE, ENGLISH, Template, render

CONSTRAINED: dict[str, Template] = {
    template.id: template
    for template in (
        Template(
            "constrained-en",
            1,
            ENGLISH,
            "Provide the {tgt_name} translation for this sentence: {source}\n"
            "Make sure to include these words: {constraints}",
        ),
        Template(
            "constrained-zh",
            1,
            CHINESE,
            "提供这句话的{tgt_name}翻译：{source}\n确保包含这些词：{constraints}",
        ),
    )
}

#: The template of each instruction language (BayLing's --instruction-lang en / zh).
BY_INSTRUCTION_LANGUAGE = {ENGLISH: "constrained-en", CHINESE: "constrained-zh"}
INSTRUCTION_LANGUAGES = tuple(BY_INSTRUCTION_LANGUAGE)


def constrained_template(instruction_language: str) -> Template:
    """The constrained-translation template whose instruction is written in
    ``instruction_language`` (``eng_Latn`` or ``zho_Hans``)."""
    try:
        return CONSTRAINED[BY_INSTRUCTION_LANGUAGE[instruction_language]]
    except KeyError:
        known = ", ".join(INSTRUCTION_LANGUAGES)
        raise ValueError(
            f"no constrained-translation prompt in {instruction_language!r} (known: {known})"
        ) from None


def render_constrained_prompt(
    instruction_language: str, src: str, tgt: str, source: str, terms: list[str]
) -> str:
    """The user turn asking to translate ``source`` from ``src`` into ``tgt`` so that the
    translation contains every one of ``terms``."""
    template = constrained_template(instruction_language)
    return render(
        template, src=src, tgt=tgt, source=source.strip("\n"), constraints=", ".join(terms)
    )
