"""prompts: render records' prompts for one model (plain text, or the model's chat template).

Records (see `data.py`) hold plain-text prompts. With a model's chat template on
(`models[].chat_template` in the config), `render_records` renders each prompt exactly as
lm-evaluation-harness does with `--apply_chat_template` (`ConfigurableTask.fewshot_context`
+ `HFLM.apply_chat_template`): with `fewshot_as_multiturn` every solved example is a user
turn (its prompt) and an assistant turn (its target without the target delimiter), then the
question as the last user turn; without it one user turn holds the plain-text prompt. The
template adds the generation prompt. Choices and targets lose their leading target
delimiter (the harness scores choices right after the assistant header), so scoring and
training see the same rendering.
"""

from __future__ import annotations

DELIMITER = " "


def strip_delimiter(text: str, delimiter: str = DELIMITER) -> str:
    """`text` without its leading target delimiter (the harness's `target_delimiter`)."""
    return text[len(delimiter) :] if delimiter and text.startswith(delimiter) else text


def chat_messages(record: dict, multiturn: bool = True) -> list[dict[str, str]]:
    """The record's prompt as chat messages [{role, content}, ...] (the last is the user's)."""
    shots = record.get("shots") or []
    if not (multiturn and shots):
        return [{"role": "user", "content": record["prompt"]}]
    messages = []
    for prompt, target in shots:
        messages += [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": strip_delimiter(target)},
        ]
    return messages + [{"role": "user", "content": record["question"]}]


def render_chat(tok, messages: list[dict[str, str]]) -> str:
    """The messages through the tokenizer's chat template, ending with the generation prompt
    (the call `HFLM.apply_chat_template` makes)."""
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"tokenizer {tok.name_or_path!r} has no chat template; set chat_template: false")
    return tok.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, continue_final_message=False
    )


def render_records(records: list[dict], tok, chat: dict | None) -> list[dict]:
    """Records ready for one model: unchanged when `chat` is off (None or apply false);
    otherwise new records whose `prompt` is the chat rendering, `choices` and `target`
    without the leading delimiter, and `plain_prompt` the original prompt.

    chat: {"apply": bool, "fewshot_as_multiturn": bool (default true)}."""
    if not (chat and chat.get("apply")):
        return records
    multiturn = chat.get("fewshot_as_multiturn", True)
    out = []
    for record in records:
        rendered = {
            **record,
            "prompt": render_chat(tok, chat_messages(record, multiturn)),
            "plain_prompt": record["prompt"],
            "target": strip_delimiter(record["target"]),
        }
        if record.get("choices"):
            rendered["choices"] = [strip_delimiter(c) for c in record["choices"]]
        out.append(rendered)
    return out


def chat_settings(model_info: dict) -> dict | None:
    """The model's chat settings as `render_records` takes them (None: plain prompts)."""
    chat = model_info.get("chat") or {}
    return chat if chat.get("apply") else None
