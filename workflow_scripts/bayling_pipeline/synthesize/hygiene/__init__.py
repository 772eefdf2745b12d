"""Data hygiene for instruction synthesis: language checks, test-set contamination, duplicates.

The synthesis stage streams a multi-way corpus and, before turning a record into chat
examples, asks four questions of each text, each answered by an object built once per
corpus segment:

- is it in the language its column claims? (`LanguageIdentifier`, in `langid`: py3langid's
  naive Bayes model over byte n-grams, which ships inside the wheel, so nothing is
  downloaded);
- does it share a long n-gram with a test set? (`ContaminationIndex`, in `contamination`);
- is it a duplicate or near-duplicate of a text seen before? (`NearDuplicateIndex`, in
  `duplicates`);
- are a source and its translation of plausible relative length? (`length_ratio_ok`, in
  `lengths`).

`DropCounter` (`drops`) tallies why records were dropped. Texts are compared in the form
`normalize` (`normalization`) gives. Every hash is a stable function of the text
(`hashing`: blake2b, or numpy uint64 arithmetic on code points), never Python's `hash()`,
so results do not depend on PYTHONHASHSEED. numpy and py3langid are imported on first use.
The `*_many` methods give the same answers as their one-text forms, several times faster.

Quick look::

    python -c "from bayling_pipeline.synthesize.hygiene import LanguageIdentifier as L; \\
        print(L().identify('Das ist ein kurzer deutscher Satz.'))"
"""

from bayling_pipeline.synthesize.hygiene.contamination import ContaminationIndex
from bayling_pipeline.synthesize.hygiene.drops import DropCounter
from bayling_pipeline.synthesize.hygiene.duplicates import NearDuplicateIndex
from bayling_pipeline.synthesize.hygiene.langid import LanguageIdentifier
from bayling_pipeline.synthesize.hygiene.lengths import length_ratio_ok, weighted_length
from bayling_pipeline.synthesize.hygiene.normalization import normalize

__all__ = [
    "ContaminationIndex",
    "DropCounter",
    "LanguageIdentifier",
    "NearDuplicateIndex",
    "length_ratio_ok",
    "normalize",
    "weighted_length",
]
