"""The attention explorer (chapter 10): a trained transformer's attention weights on a sentence you type.

    explorer = attention_explorer(model, vocabulary, "To be, or not to be")
    explorer.text_box.value = "Romeo, Romeo"          # a new sentence: the heat map follows
    explorer.head_dropdown.value = 1                   # another head
    explorer.weights                                   # (heads, T, T): row t is where step t looked

`model` is a `Sequential` language model (either engine) whose first layer is a
`TokenAndPositionEmbedding` and that holds a `TransformerBlock`; `vocabulary` is the string of its
characters in id order. The block must be causal (a language model's): the sentence is padded to the
model's length, which then changes none of its weights. The weights are the model's own: its block's attention as it ran on the
sentence (`MultiHeadAttention`'s attention scores), not a recomputation.

State: ``text``, ``head``, ``weights``. Controls: ``text_box`` (the sentence), ``head_dropdown``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import numpy as np

from gradbook.i18n import _
from gradbook.widgets._view import FigureView, WidgetBase


def _block(model: Any) -> Any:
    """The model's (first) transformer block, or a ValueError that says what model is needed."""
    from gradbook.reference.sequence_layers import TokenAndPositionEmbedding, TransformerBlock

    layers = list(getattr(model, "layers", []))
    blocks = [layer for layer in layers if isinstance(layer, TransformerBlock)]
    if not layers or not isinstance(layers[0], TokenAndPositionEmbedding) or not blocks or not blocks[0].causal:
        raise ValueError(_("the attention explorer needs a Sequential model that starts with a "
                           "TokenAndPositionEmbedding and holds a causal TransformerBlock"))
    return blocks[0]


class AttentionExplorer(WidgetBase):
    """Type a sentence, pick a head: a heat map of where each character looked."""

    def __init__(self, model: Any, vocabulary: str, text: str = "To be, or not to be", head: int = 0,
                 interactive: bool | None = None) -> None:
        self.model, self.vocabulary = model, str(vocabulary)
        self.block = _block(model)
        self.ids = {c: i for i, c in enumerate(self.vocabulary)}
        self.max_length = int((model.input_shape or (model.layers[0].sequence_length,))[0])
        self.text, self.head = "", int(head)
        self.weights = np.zeros((self.block.num_heads, 0, 0))
        self.text_box = w.Text(value=text, description=_("sentence"), continuous_update=False,
                               layout=w.Layout(width="420px"))
        self.head_dropdown = w.Dropdown(options=list(range(self.block.num_heads)), value=self.head,
                                        description=_("head"), layout=w.Layout(width="160px"))
        self.message = w.HTML()
        self.view = FigureView((6.0, 5.0), interactive)
        self.ax = self.view.fig.subplots()
        self.text_box.observe(self._text_changed, names="value")
        self.head_dropdown.observe(self._head_changed, names="value")
        self.widget = w.VBox([w.HBox([self.text_box, self.head_dropdown]), self.message, self.view.widget])
        self.set_text(text)

    def encode(self, text: str) -> np.ndarray:
        """The sentence's ids (1, T); a ValueError naming what cannot be used and what can."""
        if not text:
            raise ValueError(_("type a sentence of at least one character"))
        if len(text) > self.max_length:
            raise ValueError(_("the model reads at most {most} characters; this sentence has {count}").format(
                most=self.max_length, count=len(text)))
        unknown = sorted({c for c in text if c not in self.ids})
        if unknown:
            raise ValueError(_("the model never saw {chars}: use the characters of its text ({known})").format(
                chars=", ".join(repr(c) for c in unknown), known=repr(self.vocabulary)))
        return np.array([[self.ids[c] for c in text]])

    def attention_weights(self, text: str) -> np.ndarray:
        """The block's attention weights (heads, T, T) on `text`, as the model computed them."""
        ids = self.encode(text)
        steps = ids.shape[1]
        # The model reads sequences of its built length: pad the end. Its attention is causal, so the
        # padding (later steps) changes nothing in the rows and columns of the sentence's own steps.
        self.model.predict(np.pad(ids, ((0, 0), (0, self.max_length - steps))))
        scores = self.block.kernel.attention.scores  # the weights of the block's last run: (1, heads, T, T)
        return np.asarray(self.model.engine.to_numpy(scores), dtype=float)[0, :, :steps, :steps]

    def set_text(self, text: str) -> None:
        try:
            weights = self.attention_weights(text)
        except ValueError as error:  # the map keeps the last good sentence
            self.message.value = f"<span class='gb-error' style='color:#b00'>{html.escape(str(error))}</span>"
            return
        self.text, self.weights = text, weights
        self.message.value = ""
        self._redraw()

    def _text_changed(self, change: dict) -> None:
        self.set_text(str(change["new"]))

    def _head_changed(self, change: dict) -> None:
        self.head = int(change["new"])
        self._redraw()

    def _redraw(self) -> None:
        ax, labels = self.ax, [c if c.strip() else "␣" for c in self.text]
        ax.clear()
        ax.imshow(self.weights[self.head], cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set_xlabel(_("key: the character looked at"))
        ax.set_ylabel(_("query: the character predicting the next"))
        ax.set_title(_("attention weights of head {head}").format(head=self.head), fontsize=10)
        self.view.draw()


def attention_explorer(model: Any, vocabulary: str, text: str = "To be, or not to be", **options) -> AttentionExplorer:
    """An `AttentionExplorer`; display it by making it a cell's last line."""
    return AttentionExplorer(model, vocabulary, text, **options)
