"""Assistant-only loss mask on the real SmolLM2 chat template, checked token by token."""

from bayling_pipeline.chat import IGNORE_INDEX, generation_prompt_ids, tokenize_dialogue

DIALOGUE = [
    {"role": "user", "content": "Provide the German translation for this sentence: Save"},
    {"role": "assistant", "content": "Speichern"},
    {"role": "user", "content": "Now give it in French."},
    {"role": "assistant", "content": "Enregistrer"},
]


def test_only_assistant_turns_are_learned(smollm2_tokenizer):
    tok = smollm2_tokenizer
    example = tokenize_dialogue(tok, DIALOGUE, max_length=512)
    assert len(example["input_ids"]) == len(example["labels"])
    learned = [i for i, label in enumerate(example["labels"]) if label != IGNORE_INDEX]
    # labels equal the inputs wherever they are learned
    assert all(example["labels"][i] == example["input_ids"][i] for i in learned)
    # the learned spans decode to exactly the two answers, each with its end-of-turn marker
    spans, current = [], [learned[0]]
    for i in learned[1:]:
        if i == current[-1] + 1:
            current.append(i)
        else:
            spans.append(current)
            current = [i]
    spans.append(current)
    texts = [tok.decode([example["input_ids"][i] for i in span]) for span in spans]
    assert [t.strip() for t in texts] == ["Speichern<|im_end|>", "Enregistrer<|im_end|>"]
    # nothing of the user turns or the system prompt is learned
    everything = tok.decode(example["input_ids"])
    assert "Now give it in French." in everything
    assert not any("French" in t or "Save" in t for t in texts)


def test_truncation_keeps_alignment_and_drops_unlearnable(smollm2_tokenizer):
    full = tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=512)
    cut = tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=len(full["input_ids"]) - 5)
    assert cut["input_ids"] == full["input_ids"][: len(cut["input_ids"])]
    assert tokenize_dialogue(smollm2_tokenizer, DIALOGUE, max_length=8) is None


def test_generation_prompt_ends_where_the_answer_starts(smollm2_tokenizer):
    prompt = generation_prompt_ids(smollm2_tokenizer, DIALOGUE[0]["content"])
    example = tokenize_dialogue(smollm2_tokenizer, DIALOGUE[:2], max_length=512)
    assert example["input_ids"][: len(prompt)] == prompt
    assert example["labels"][len(prompt)] != IGNORE_INDEX
    assert example["labels"][len(prompt) - 1] == IGNORE_INDEX
