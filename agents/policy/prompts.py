"""Prompt formats: how env observations are wrapped around the model's actions.

Actions are always ToolLLaMA ReAct text (``Thought/Action/Action Input``), which the env parses. Formats differ
in the text *around* them:

* `ReActFormat` (ToolLLaMA/ToolBench): the reset observation already holds the system prompt and query;
  assistant turns follow ``Assistant:\\n`` and tool turns are ``\\nFunction: <observation>``.
* `CompactReActFormat`: the same ReAct turns after a short system prompt that lists each function as
  ``name(required, optional?)`` instead of the AutoGPT prompt's full JSON schemas: a few dozen tokens instead of
  over a thousand, so a small-context model keeps the function names and argument keys it has to copy.
* `TerseReActFormat`: the compact prompt, and actions without the ``Thought:`` line (``Action: … Action Input: …``,
  which the env parses the same way). A scripted thought ("I will call X") repeats the action's name; dropping it
  cuts a quarter of the action tokens a small model must generate and train on.
* `ChatTemplateFormat`: the tokenizer's chat template over the env's OpenAI messages with
  ``apply_chat_template(..., tools=...)``; tool turns are rendered as ``role="tool"`` messages.

Every format exposes `render_action`, the text of a demonstrated action (what SFT trains on), and `close_text`:
the template text that ends an assistant turn. Its first token is the model's end-of-turn (EOS) token; when the
model stopped without emitting it (stop string, closed JSON, token limit) the whole `close_text` becomes part of the
next prompt segment, so training and sampling see the same token stream.
"""

from __future__ import annotations

from typing import Any, Protocol

from steptool_gym.actions import ToolCall

__all__ = ["ChatTemplateFormat", "CompactReActFormat", "PromptFormat", "ReActFormat", "TerseReActFormat",
           "after_action_text", "make_format"]

_DUMMY = "\u2063ACTION\u2063"  # invisible separators: never produced by a template itself


class PromptFormat(Protocol):
    close_text: str

    def initial(self, observation: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        """Text of the first prompt segment, ending where the first assistant turn starts."""
        ...

    def tool_turn(self, observation: str, name: str) -> str:
        """Text of a tool turn (after `close_text`), ending where the next assistant turn starts."""
        ...

    def render_action(self, call: ToolCall) -> str:
        """The text of `call` as this format's assistant turn (before `close_text`)."""
        ...


class ReActFormat:
    """ToolLLaMA's plain-text conversation (``System: … User: … Assistant: … Function: …``)."""

    def __init__(self, eos_token: str) -> None:
        self.close_text = eos_token

    def initial(self, observation: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        return f"System: {observation}Assistant:\n"

    def tool_turn(self, observation: str, name: str) -> str:
        return f"\nFunction: {observation}\nAssistant:\n"

    def render_action(self, call: ToolCall) -> str:
        return call.to_react()


class CompactReActFormat(ReActFormat):
    """ReAct turns after a compact function list (``name(required, optional?)``) and the user's query."""

    def initial(self, observation: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        lines = [f"{t['name']}({', '.join(_signature(t))})" for t in tools]
        query = next((m["content"] for m in messages if m.get("role") == "user"), "")
        return "System: Functions:\n" + "\n".join(lines) + f"\nUser: {query}\nBegin!\nAssistant:\n"


class TerseReActFormat(CompactReActFormat):
    """The compact prompt with actions as ``Action: <name>\\nAction Input: <json>`` (no Thought line)."""

    def render_action(self, call: ToolCall) -> str:
        return f"Action: {call.name}\nAction Input: {call.arguments_json()}"


def _signature(tool: dict[str, Any]) -> list[str]:
    params = tool.get("parameters") or {}
    required = set(params.get("required") or [])
    return [k if k in required else f"{k}?" for k in (params.get("properties") or {})]


class ChatTemplateFormat:
    """The tokenizer's own chat template with the env's messages and function schemas."""

    def __init__(self, tokenizer: Any) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("ChatTemplateFormat needs a tokenizer with a chat_template; use prompt_format='react'")
        self.tokenizer = tokenizer
        eos = tokenizer.eos_token
        base = [{"role": "user", "content": "q"}, {"role": "assistant", "content": _DUMMY}]
        rendered = self._render(base, add_generation_prompt=False)
        close = rendered[rendered.rindex(_DUMMY) + len(_DUMMY):]
        if not close.startswith(eos):
            # Templates that end turns with a token other than EOS: that token still closes the action.
            raise ValueError(f"Chat template ends assistant turns with {close!r}, not with EOS {eos!r}")
        self.close_text = close
        self._base = base
        self._base_rendered = rendered

    def _render(self, messages: list[dict[str, Any]], add_generation_prompt: bool,
                tools: list[dict[str, Any]] | None = None) -> str:
        return self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    def initial(self, observation: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        schemas = [{"type": "function", "function": t} for t in tools]
        return self._render(messages[:2], add_generation_prompt=True, tools=schemas)

    def tool_turn(self, observation: str, name: str) -> str:
        full = self._render([*self._base, {"role": "tool", "name": name, "content": observation}],
                            add_generation_prompt=True)
        if not full.startswith(self._base_rendered):
            raise ValueError("Chat template renders earlier turns differently once a tool turn follows")
        return full[len(self._base_rendered):]

    def render_action(self, call: ToolCall) -> str:
        return call.to_react()


def make_format(name: str, tokenizer: Any) -> PromptFormat:
    """``react``, ``react_compact``, ``react_terse`` or ``chat`` for `tokenizer`."""
    if name == "react":
        return ReActFormat(tokenizer.eos_token)
    if name == "react_compact":
        return CompactReActFormat(tokenizer.eos_token)
    if name == "react_terse":
        return TerseReActFormat(tokenizer.eos_token)
    if name == "chat":
        return ChatTemplateFormat(tokenizer)
    raise ValueError(f"Unknown prompt format {name!r}; use 'react', 'react_compact', 'react_terse' or 'chat'")


def after_action_text(fmt: PromptFormat, eos_token: str, emitted_eos: bool, observation: str, name: str) -> str:
    """The prompt text following an action: the rest of the turn's closing text, then the tool turn.

    If the model emitted EOS itself that token is its own (already in the trajectory); otherwise the template
    supplies it, so the token stream is the same either way.
    """
    close = fmt.close_text[len(eos_token):] if emitted_eos else fmt.close_text
    return close + fmt.tool_turn(observation, name)
