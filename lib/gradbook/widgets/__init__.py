"""Interactive widgets for the chapters (ipywidgets 8 + matplotlib).

    from gradbook.widgets import optimizer_race, training_loop, softmax_temperature, kernel_explorer
    optimizer_race("rosenbrock")          # chapter 6: optimisers racing on a loss surface
    training_loop("xor")                  # chapters 0 and 3: a small MLP's decision boundary as it trains
    softmax_temperature([2, 1, 0.5])      # chapter 5: softmax(logits / T)
    kernel_explorer()                     # chapter 7: 3x3 kernels on an MNIST digit
    perceptron_explorer(perceptron_predict, "or")   # chapter 3: weights for a logic gate, by hand
    gradient_through_time(1.2)            # chapter 9: the gradient's norm through time, and clipping
    attention_explorer(model, vocabulary)  # chapter 10: a trained transformer's attention on a sentence

Each returns an object whose state is in plain attributes (``race.paths``,
``trainer.losses``, ...), with ``step(n)`` / ``reset()`` where that makes sense and
its controls as attributes (``race.lr_sliders["Adam"]``, ``trainer.hidden_slider``),
so it can be driven from code and tested headlessly. A cell that ends with it
shows it. Figures are PNG images under the inline backend, and interactive ipympl
canvases after ``%matplotlib widget`` (then a click on the surface sets the start).
"""

from gradbook.widgets.attention import AttentionExplorer, attention_explorer
from gradbook.widgets.kernels import KernelExplorer, kernel_explorer
from gradbook.widgets.perceptron import PerceptronExplorer, perceptron_explorer
from gradbook.widgets.race import OptimizerRace, optimizer_race
from gradbook.widgets.softmax import SoftmaxTemperature, softmax_temperature
from gradbook.widgets.through_time import GradientThroughTime, gradient_through_time
from gradbook.widgets.trainer import TrainingLoop, training_loop

__all__ = ["AttentionExplorer", "GradientThroughTime", "KernelExplorer", "OptimizerRace", "PerceptronExplorer",
           "SoftmaxTemperature", "TrainingLoop", "attention_explorer", "gradient_through_time", "kernel_explorer",
           "optimizer_race", "perceptron_explorer", "softmax_temperature", "training_loop"]
