"""Language identification: `LanguageIdentifier`, py3langid's bundled naive Bayes model mapped
to our language codes (nothing is downloaded; py3langid and numpy are imported on first use).

Quick look::

    python -c "from bayling_pipeline.synthesize.hygiene import LanguageIdentifier as L; \\
        print(L().identify('Das ist ein kurzer deutscher Satz.'))"
"""

from __future__ import annotations

import array
import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from bayling_pipeline import languages as language_table
from bayling_pipeline.synthesize.hygiene.drops import DropCounter
from bayling_pipeline.synthesize.hygiene.hashing import _BATCH_CHARS
from bayling_pipeline.synthesize.hygiene.normalization import _DENSE, _code_points, _script_table

if TYPE_CHECKING:
    import numpy as np

# py3langid labels whose ISO 639-1 code is not the language part of one of our locales
# (rows without a gettext locale, macrolanguage labels). Labels neither here nor in a locale
# (an, dz, fo, la, mg, qu, se, vo, wa) are languages we lack: identify() gives None for them.
_EXTRA_LABELS = {
    "as": ("asm_Beng",),
    "gu": ("guj_Gujr",),
    "ht": ("hat_Latn",),
    "jv": ("jav_Latn",),
    "ku": ("kmr_Latn", "ckb_Arab"),
    "lo": ("lao_Laoo",),
    "mt": ("mlt_Latn",),
    "no": ("nob_Latn", "nno_Latn"),
    "oc": ("oci_Latn",),
    "or": ("ory_Orya",),
    "ps": ("pbt_Arab",),
    "rw": ("kin_Latn",),
    "si": ("sin_Sinh",),
    "tl": ("tgl_Latn",),
    "xh": ("xho_Latn",),
    "zh": ("yue_Hant",),
    "zu": ("zul_Latn",),
}
# Labels agrees() treats as one language: Norwegian (nb, nn and the macrolanguage no),
# Serbo-Croatian (bs, hr, sr), Malay (id, ms: one macrolanguage the model confuses).
_EQUIVALENT_LABELS = (frozenset({"nb", "nn", "no"}), frozenset({"bs", "hr", "sr"}))
_EQUIVALENT_LABELS += (frozenset({"id", "ms"}),)

# A text is judged only with placeholders and markup removed and at least `min_letters`
# letters (str.isalpha) left, a Han, Kana or Hangul character counting 3; and it is judged
# to be in another language only with probability >= `threshold`. Measured on real ALMA
# lines (3,000-5,000 each of German, English, Chinese): cut to their first 10 letters, the
# top label is wrong for 22% of German lines; at 20 letters, 6%, and with threshold 0.99
# agrees() wrongly says False for 0.3-0.9% of them (2% at 0.9). On whole lines it wrongly
# says False for 0.10-0.14%, and catches 97-98% of lines checked against the wrong one of
# German/English.
_PLACEHOLDERS = re.compile(
    r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"  # %(name)s
    r"|%\d+\$[-#0 +]*\d*[a-zA-Z]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"  # %1$s, %s
    r"|\{\{.*?\}\}|\{[^{}]*\}|<[^<>]*>|&#?\w+;"  # {{ var }}, {0}, <b>, &amp;
    r"|\b(?:https?://|www\.)\S+|\S+@\S+\.\w+"  # URLs, e-mail addresses
)
# every match of _PLACEHOLDERS holds one of these
_PLACEHOLDER_MARKS = ("%", "{", "<", "&", "@", "http", "www.")
_MIN_LETTERS = 20


class _Model(NamedTuple):
    nextmove: array.array  # DFA transitions (uint16), indexed by (state << 8) + byte
    nextmove_array: np.ndarray  # the same as int32, for the batched walk
    row_of: np.ndarray  # DFA state -> row of per_state, or -1 when it emits no feature
    per_state: np.ndarray  # (8656 states, 97 labels) float32 summed feature log-probs
    priors: np.ndarray  # (97,) float32 log class priors
    labels: list[str]  # ISO 639-1 labels


@functools.cache
def _model() -> _Model:
    """py3langid's bundled model, loaded once per process and rearranged for speed (0.4 s).

    The model is naive Bayes over byte n-grams found by a DFA: each state the DFA reaches
    emits a few features. Summing the feature weights per state once turns scoring into a
    gather-and-sum over the states a text visits.
    """
    import numpy as np
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as Model

    model = Model.from_pickled_model(MODEL_FILE)
    states = sorted(model.tk_output)
    row_of = np.full(len(model.tk_nextmove) // 256, -1, dtype=np.int32)
    row_of[states] = np.arange(len(states), dtype=np.int32)
    weights = np.asarray(model.nb_ptc, dtype=np.float64)
    per_state = np.zeros((len(states), weights.shape[1]), dtype=np.float64)
    for row, state in enumerate(states):
        for feature in model.tk_output[state]:
            per_state[row] += weights[feature]
    return _Model(
        model.tk_nextmove,
        np.asarray(model.tk_nextmove, dtype=np.int32),
        row_of,
        per_state.astype(np.float32),
        np.asarray(model.nb_pc, dtype=np.float32),
        list(model.nb_classes),
    )


@functools.cache
def _label_codes() -> dict[str, tuple[str, ...]]:
    """py3langid label -> our codes: the locales of languages.tsv, then _EXTRA_LABELS."""
    mapping: dict[str, list[str]] = {}
    for code in language_table.known_codes():
        locale = language_table.locale_of(code)
        if locale:  # "zh_Hans" -> "zh", "sr_Latn" -> "sr": the ISO 639-1 part
            mapping.setdefault(locale.split("_")[0], []).append(code)
    for label, codes in _EXTRA_LABELS.items():
        known = mapping.setdefault(label, [])
        known.extend(code for code in codes if code not in known)
    labels = set(_model().labels)
    return {label: tuple(codes) for label, codes in sorted(mapping.items()) if label in labels}


def _probabilities(scores: np.ndarray) -> np.ndarray:
    """Softmax of naive Bayes log-scores, in float64."""
    import numpy as np

    exp = np.exp(scores.astype(np.float64) - scores.max())
    return exp / exp.sum()


def _same_language(label: str, other: str) -> bool:
    return label == other or any(label in group and other in group for group in _EQUIVALENT_LABELS)


class LanguageIdentifier:
    """Offline language identification with a model that ships inside a PyPI package.

    The model is py3langid's (langid.py's naive Bayes over byte n-grams: 97 languages with
    ISO 639-1 labels), mapped to our codes through the locales of languages.tsv and
    `_EXTRA_LABELS`. `languages`, if given, narrows the label set to the labels of those
    codes, as ``langid.set_languages`` does (codes the model lacks are ignored), and
    identify() then answers only those codes. Probabilities are the softmax of the model's
    scores over the active labels.

    Construction: about 0.4 s for the first instance in a process (model load and lookup
    tables, about 17 MB), milliseconds after that; instances share the tables.

    ``stats`` counts agrees() outcomes: "agree", "disagree", "low_confidence" (another
    language, below `threshold`), "too_short" and "unchecked" (the model lacks the
    expected language: 29 of our 121 codes, e.g. hsb_Latn, mya_Mymr, yor_Latn).
    """

    def __init__(
        self,
        languages: Iterable[str] | None = None,
        *,
        threshold: float = 0.99,
        min_letters: int = _MIN_LETTERS,
    ) -> None:
        import numpy as np

        model = _model()
        label_codes = _label_codes()
        if languages is None:
            codes = {label: label_codes.get(label, ()) for label in model.labels}
        else:
            wanted = set(languages)
            codes = {
                label: tuple(code for code in label_codes.get(label, ()) if code in wanted)
                for label in model.labels
            }
            codes = {label: found for label, found in codes.items() if found}
        mask = np.isin(model.labels, list(codes))
        self.labels: list[str] = [label for label in model.labels if label in codes]
        self._codes = codes
        self._label_of = {code: label for label in self.labels for code in codes[label]}
        self._model = model
        self._per_state = np.ascontiguousarray(model.per_state[:, mask])
        self._priors = model.priors[mask]
        self.threshold, self.min_letters = threshold, min_letters
        self.stats = DropCounter()

    def supports(self, code: str) -> bool:
        """Whether the model (narrowed to `languages`, if given) can recognise `code`."""
        return code in self._label_of

    def _code(self, label: str, text: str) -> str | None:
        """Our code for a label; among several (sr, ku), the one whose script fits the text
        (Latin or not; zh gives zho_Hans unless narrowed to zho_Hant or yue_Hant)."""
        codes = self._codes.get(label, ())
        if len(codes) > 1:
            letters = [char for char in text if char.isalpha()]
            latin = 2 * sum(char < "\u0250" for char in letters) > len(letters)
            for code in codes:
                if code.endswith("_Latn") == latin:
                    return code
        return codes[0] if codes else None

    def _result(self, scores: np.ndarray, text: str) -> tuple[str | None, float]:
        if not self.labels:
            return None, 0.0
        probabilities = _probabilities(scores)
        best = int(probabilities.argmax())
        return self._code(self.labels[best], text), float(probabilities[best])

    def _scores(self, text: str) -> np.ndarray:
        """Log-scores of one text: walk the DFA in Python, then one gather-and-sum."""
        nextmove, state, visited = self._model.nextmove, 0, []
        append = visited.append
        for byte in text.encode("utf-8", "surrogatepass"):
            state = nextmove[(state << 8) + byte]
            append(state)
        rows = self._model.row_of[visited] if visited else self._model.row_of[:0]
        return self._per_state[rows[rows >= 0]].sum(axis=0) + self._priors

    def _scores_many(self, texts: Sequence[str], batch: int = 512) -> list[np.ndarray]:
        """`_scores` of many texts, the DFA walked for a whole batch at once in numpy.

        Texts are sorted by length, longest first, so a batch walks as many steps as its
        longest text has bytes and a text leaves the walk when it ends.
        """
        import numpy as np

        encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable").tolist()
        scores: list[np.ndarray] = [self._priors] * len(texts)
        begin = 0
        while begin < len(order):
            steps = int(lengths[order[begin]])
            # at most _BATCH_CHARS padded bytes: one long document walks on its own
            size = min(batch, max(1, _BATCH_CHARS // max(steps, 1)))
            chunk, begin = order[begin : begin + size], begin + size
            if len(chunk) < 8 or not steps:  # the per-step numpy overhead would dominate
                for index in chunk:
                    scores[index] = self._scores(texts[index])
                continue
            padded = b"".join(encoded[index].ljust(steps, b"\0") for index in chunk)
            data = np.frombuffer(padded, dtype=np.uint8).reshape(len(chunk), steps)
            ends = lengths[chunk]
            # active[j]: how many texts (the longest) still have a byte at position j
            active = len(chunk) - np.searchsorted(ends[::-1], np.arange(steps), side="right")
            visited = np.empty((steps, len(chunk)), dtype=np.int32)
            state = np.zeros(len(chunk), dtype=np.int32)
            nextmove = self._model.nextmove_array
            for step, count in enumerate(active.tolist()):
                state[:count] = nextmove[(state[:count] << 8) | data[:count, step]]
                visited[step, :count] = state[:count]
            for column, (index, length) in enumerate(zip(chunk, ends.tolist(), strict=True)):
                rows = self._model.row_of[visited[:length, column]]
                scores[index] = self._per_state[rows[rows >= 0]].sum(axis=0) + self._priors
        return scores

    def identify(self, text: str) -> tuple[str | None, float]:
        """(our code, or None when the model's label is none of ours; probability 0..1)."""
        return self._result(self._scores(text), text)

    def identify_many(self, texts: Sequence[str]) -> list[tuple[str | None, float]]:
        """`identify` for each text (identical results), batched."""
        scores = self._scores_many(texts)
        return [self._result(row, text) for row, text in zip(scores, texts, strict=True)]

    def reliable(self, text: str) -> bool:
        """Whether `text` has enough letters to be judged (see `_MIN_LETTERS`)."""
        import numpy as np

        # the pattern is slow (``\S+@`` backtracks at every word): run it only when a
        # character or word that every alternative starts with or contains is present
        marked = any(mark in text for mark in _PLACEHOLDER_MARKS)
        stripped = _PLACEHOLDERS.sub(" ", text) if marked else text
        # counting a prefix settles most texts; the count is a lower bound of the whole's
        letters = sum(map(str.isalpha, stripped[: 4 * self.min_letters]))
        if letters < self.min_letters:
            letters = sum(map(str.isalpha, stripped))
        if letters < self.min_letters and not stripped.isascii():
            dense = _script_table()[_code_points(stripped)] & _DENSE
            letters += 2 * int(np.count_nonzero(dense))
        return letters >= self.min_letters

    def agrees(self, text: str, expected: str) -> bool:
        """Whether `text` may be in language `expected`; False only when the model is sure.

        True when the model lacks `expected` ("unchecked"), when `text` is not `reliable`
        ("too_short"), when the identified language is `expected` or equivalent to it (the
        same model label, as zho_Hans, zho_Hant and yue_Hant all are "zh", or one
        `_EQUIVALENT_LABELS` group such as nb/nn/no), or when the other language's
        probability is below `threshold` ("low_confidence").
        """
        return self.agrees_many([text], expected)[0]

    def agrees_many(self, texts: Sequence[str], expected: str | Sequence[str]) -> list[bool]:
        """`agrees` for each text, against one code or one code per text; batched."""
        import numpy as np

        codes = [expected] * len(texts) if isinstance(expected, str) else list(expected)
        verdicts = [True] * len(texts)
        judged = []
        for index, (text, code) in enumerate(zip(texts, codes, strict=True)):
            if not self.supports(code):
                self.stats.drop("unchecked")
            elif not self.reliable(text):
                self.stats.drop("too_short")
            else:
                judged.append(index)
        if not judged:
            return verdicts
        scores = self._scores_many([texts[index] for index in judged])
        # `_probabilities` of every row at once: the best label's is 1 / sum(exp(s - max))
        table = np.array(scores, dtype=np.float64)
        best_labels = table.argmax(axis=1).tolist()
        best_probabilities = 1.0 / np.exp(table - table.max(axis=1, keepdims=True)).sum(axis=1)
        for index, best, probability in zip(
            judged, best_labels, best_probabilities.tolist(), strict=True
        ):
            if _same_language(self.labels[best], self._label_of[codes[index]]):
                self.stats.drop("agree")
            elif probability < self.threshold:
                self.stats.drop("low_confidence")
            else:
                self.stats.drop("disagree")
                verdicts[index] = False
        return verdicts
