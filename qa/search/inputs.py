"""Input rules for questions, shared by the chat, the HTTP API, the Gradio endpoint and the CLI.

>>> clean_question("  Ai chủ trì\\x00 hội nghị? ")
'Ai chủ trì hội nghị?'
"""

from __future__ import annotations

import re
import unicodedata

from qa.errors import InputError

DEFAULT_MAX_CHARS = 1000
MAX_HISTORY_ITEMS = 20  # previous questions a request may send (the newest few are used)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0/C1 controls except TAB and LF
_SPACES = re.compile(r"\s+")


def clean_question(question: object, limit: int = DEFAULT_MAX_CHARS) -> str:
    """NFC, control characters removed, whitespace collapsed; raises InputError for empty or too long."""
    if not isinstance(question, str):
        raise InputError(
            f"question must be a string, got {type(question).__name__}",
            "Câu hỏi phải là một chuỗi văn bản.",
        )
    text = unicodedata.normalize("NFC", question)
    text = _CONTROL.sub(" ", text)
    # lone surrogates cannot be encoded to UTF-8 anywhere downstream
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise InputError("the question is empty", "Vui lòng nhập câu hỏi.")
    if len(text) > limit:
        raise InputError(
            f"the question has {len(text)} characters; the limit is {limit} (QA_MAX_QUESTION_CHARS)",
            f"Câu hỏi quá dài ({len(text)} ký tự). Vui lòng rút gọn dưới {limit} ký tự.",
        )
    return text
