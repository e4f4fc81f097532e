#!/usr/bin/env python3
"""Training the character-level language models of chapters 9 and 10 on the course's whole text, per engine.

    python bench/bench_language_models.py                        # the NumPy engine, torch on the CPU, CUDA if present
    python bench/bench_language_models.py --device cuda          # one device only ("numpy", "cpu", "cuda")
    python bench/bench_language_models.py --quick                # a tenth of the text: a smoke run of seconds

The models are the chapters' own (chapter 10's tiny transformer: TokenAndPositionEmbedding 32 -> TransformerBlock
of 2 heads, key_dim 16, ff_dim 64 -> LayerNormalization -> Dense softmax; chapter 9's LSTM language model:
Embedding 32 -> LSTM 40 -> Dense softmax), compiled as the chapters compile them (Adam 3e-3, sparse categorical
cross-entropy, perplexity), trained with `Sequential.fit` on windows of 32 characters that tile the first 90 % of
`gradbook.datasets.text.load_text()` (about 200,000 characters of Shakespeare), validated on windows of the rest.
The notebooks train for 100 steps (their time budget); this is the whole text, 20 epochs by default.

Per model and device it prints the wall-clock seconds of the whole training and of an epoch (median and best: on a
busy machine, BLAS's and torch's threads waiting on each other's cores make single epochs several times slower),
the validation perplexity reached (and a uniform guess's, the vocabulary's size), and each device's speed-up over
the NumPy engine (whole trainings compared); and, for the first device, 160 characters the trained model writes
after a line of the validation text, at temperatures 0.5 and 1.0. The targets of issue 28: the tiny transformer trains in minutes on 2 cores (the NumPy engine, BLAS on
every core as a student's notebook runs it) and in seconds on a GPU. Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np

from gradbook import layers, models, optimizers
from gradbook.datasets.text import load_text

T = 32  # characters per window, as in the chapters


def windows(ids: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of T ids starting every ``stride`` ids, and the same windows one id later (the targets)."""
    starts = np.arange(0, len(ids) - T - 1, stride)
    index = starts[:, None] + np.arange(T)
    return ids[index], ids[index + 1]


def tiny_transformer(vocabulary: int, device: str | None) -> models.Sequential:
    return models.Sequential([layers.TokenAndPositionEmbedding(vocabulary, T, 32),
                              layers.TransformerBlock(num_heads=2, key_dim=16, ff_dim=64),
                              layers.LayerNormalization(),
                              layers.Dense(vocabulary, activation="softmax")], seed=0, device=device)


def lstm_model(vocabulary: int, device: str | None) -> models.Sequential:
    return models.Sequential([layers.Embedding(vocabulary, 32),
                              layers.LSTM(40, return_sequences=True),
                              layers.Dense(vocabulary, activation="softmax")], seed=0, device=device)


MODELS: dict[str, Callable[[int, str | None], models.Sequential]] = {
    "transformer": tiny_transformer, "LSTM": lstm_model}


def devices_here() -> list[str]:
    found = ["numpy", "cpu"]
    try:
        import torch

        if torch.cuda.is_available():
            found.append("cuda")
    except ImportError:
        found.remove("cpu")
    return found


def compiled(name: str, vocabulary: int, device: str) -> models.Sequential:
    """Model ``name``, fresh, compiled as the chapters compile it, on ``device`` ("numpy": the NumPy engine)."""
    model = MODELS[name](vocabulary, None if device == "numpy" else device)
    model.compile(optimizer=optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["perplexity"])
    model.build((T,))
    return model


def train(name: str, device: str, data: tuple[np.ndarray, ...], vocabulary: int, epochs: int,
          batch_size: int) -> tuple[float, list[float], float, models.Sequential]:
    """(seconds of the whole training, of each epoch, validation perplexity, the trained model) of model ``name`` on
    ``device``."""
    x_train, y_train, x_val, y_val = data
    # A warm-up on a fresh model first: the first steps' one-off costs (CUDA's context and kernels, allocations).
    compiled(name, vocabulary, device).fit(x_train[:batch_size * 2], y_train[:batch_size * 2], epochs=1,
                                           batch_size=batch_size, verbose=0, seed=0)
    model = compiled(name, vocabulary, device)
    ends: list[float] = []
    start = time.perf_counter()
    for _ in range(epochs):  # one fit per epoch, to time the last epoch alone
        model.fit(x_train, y_train, epochs=1, batch_size=batch_size, verbose=0, seed=len(ends))
        ends.append(time.perf_counter())
    _, perplexity = model.evaluate(x_val, y_val, batch_size=256)
    return ends[-1] - start, list(np.diff([start, *ends])), float(perplexity), model


def sample(model: models.Sequential, prompt: list[int], length: int, temperature: float) -> list[int]:
    """``length`` ids drawn one at a time after ``prompt`` (T ids), each from the model's next-character probabilities
    at ``temperature`` (the window slides), as chapter 9's notebook samples."""
    rng = np.random.default_rng(0)
    out = list(prompt)
    for _ in range(length):
        logits = np.log(model.predict(np.array([out[-T:]]), verbose=0)[0, -1] + 1e-12) / temperature
        p = np.exp(logits - logits.max())
        out.append(int(rng.choice(len(p), p=p / p.sum())))
    return out[len(prompt):]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", choices=["numpy", "cpu", "cuda"],
                        help="an engine to time (repeatable; default: every one this machine has)")
    parser.add_argument("--model", action="append", choices=list(MODELS), help="a model to train (default: both)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="a tenth of the text (timings only roughly hold)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    text = load_text()
    vocabulary = "".join(sorted(set(text)))
    char_id = {c: i for i, c in enumerate(vocabulary)}
    ids = np.array([char_id[c] for c in text])
    split = int(0.9 * len(ids))
    x_train, y_train = windows(ids[:split], T)  # the training text once per epoch
    x_val, y_val = windows(ids[split:], T)
    if args.quick:
        x_train, y_train = x_train[:len(x_train) // 10], y_train[:len(y_train) // 10]
    data = (x_train, y_train, x_val, y_val)
    here = devices_here()
    chosen = args.device or here
    missing = [device for device in chosen if device not in here]
    if missing:
        parser.error(f"this machine has no {', '.join(missing)} (it has: {', '.join(here)}); "
                     "leave --device out to time every engine it has")
    print(f"{len(text):,} characters, {len(vocabulary)} distinct; {len(x_train):,} training windows of {T} "
          f"({len(x_train) // args.batch_size + (len(x_train) % args.batch_size > 0)} steps of {args.batch_size} "
          f"per epoch), {len(x_val):,} validation windows; {args.epochs} epochs; "
          f"{os.cpu_count()} CPU(s), load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"a uniform guess's perplexity is {len(vocabulary)}")
    for name in args.model or list(MODELS):
        numpy_seconds = None
        for device in chosen:
            seconds, epochs, perplexity, model = train(name, device, data, len(vocabulary), args.epochs,
                                                       args.batch_size)
            if device == "numpy":
                numpy_seconds = seconds
            versus = f"   {numpy_seconds / seconds:5.1f}x the NumPy engine's speed" if (
                numpy_seconds and device != "numpy") else ""
            print(f"{name:>12} on {device:>5}: {seconds:7.1f} s in all ({seconds / 60:4.1f} min); an epoch "
                  f"{statistics.median(epochs):5.2f} s (median; best {min(epochs):5.2f} s); validation perplexity "
                  f"{perplexity:5.2f}{versus}")
            if device == chosen[0]:  # what the model writes, once per model
                start = split + int(np.argmax(ids[split:] == char_id["\n"])) + 1  # a line's start in the validation text
                prompt = list(ids[start:start + T])
                for temperature in (0.5, 1.0):
                    text = "".join(vocabulary[i] for i in sample(model, prompt, 160, temperature))
                    print(f"    sampled at temperature {temperature} after {''.join(vocabulary[i] for i in prompt)!r}:"
                          f"\n      " + text.replace("\n", "\n      "))


if __name__ == "__main__":
    main()
