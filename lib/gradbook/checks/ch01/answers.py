"""Chapter 1, tensors: ndim and shape, slicing, preparing MNIST for a dense network, one-hot labels.

Value exercises (``check.ndims(ndims)``) ask for the answer itself; the reference is a
function of no arguments that returns it. The others compare the student's function
with the reference on fixed small inputs, then random ones; dtypes matter here
(uint8 pixels in, float32 out), so those exercises compare the dtype too.
"""

from __future__ import annotations

import numpy as np

from gradbook.checks.core import Exercise, Mistake, compare_values
from gradbook.checks.drivers import Case
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

Array = np.ndarray


# --- the tensors of the ndim/shape questions (the notebook shows the same ones) --------
#   x0 = np.array(12)
#   x1 = np.array([12, 3, 6, 14, 7])
#   x2 = np.array([[5, 78, 2, 34, 0], [6, 79, 3, 35, 1], [7, 80, 4, 36, 2]])
#   x3 = np.array([x2, x2 + 100])


def _ndims() -> list[int]:
    return [0, 1, 2, 3]


def _shapes() -> list[tuple[int, ...]]:
    return [(), (5,), (3, 5), (2, 3, 5)]


def _data_shapes() -> dict[str, tuple[int, ...]]:
    return {
        "people": (1000, 3),
        "stocks": (250, 390, 3),
        "images": (128, 256, 256, 3),
        "videos": (4, 240, 144, 256, 3),
    }


# --- reference functions --------------------------------------------------------------


def _crop_bottom_right(images: Array) -> Array:
    return images[:, 14:, 14:]


def _prepare_images(images: Array) -> Array:
    return images.reshape((len(images), 28 * 28)).astype("float32") / 255


def _to_categorical(labels: Array, num_classes: int) -> Array:
    out = np.zeros((len(labels), num_classes), dtype="float32")
    out[np.arange(len(labels)), labels] = 1
    return out


# --- cases ----------------------------------------------------------------------------


def _image_batches(rng: np.random.Generator, hidden: bool) -> list[Case]:
    ramp = (np.arange(3 * 28 * 28) % 256).astype(np.uint8).reshape(3, 28, 28)
    sizes = [5, 1] + ([20, 64] if hidden else [])
    cases = [Case((ramp,), label=N_("3 images of shape (28, 28) holding 0, 1, ..., 255, 0, 1, ..."))]
    cases += [Case((rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),), label=N_("{n} random uint8 images of shape (28, 28)"), label_values={"n": n}) for n in sizes]
    # A dark batch: its brightest pixel is not 255, so dividing by the batch's max shows.
    brightest = int(rng.integers(60, 200))
    cases.append(Case((rng.integers(0, brightest + 1, size=(4, 28, 28), dtype=np.uint8),),
                      label=N_("4 dark uint8 images (no pixel brighter than {brightest})"), label_values={"brightest": brightest}))
    if hidden:
        cases.append(Case((np.full((2, 28, 28), 255, dtype=np.uint8),), label=N_("2 images of all 255 (white)")))
    return cases


def _label_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([0, 3, 9, 1]), 10)), Case((np.array([2, 0, 1]), 4)), Case((np.array([1]), 2))]
    cases += [Case((rng.integers(0, 10, size=12).astype(np.uint8), 10), label=N_("12 random uint8 labels 0-9, num_classes=10"))]
    if hidden:
        cases += [
            Case((np.array([4, 4, 4]), 5)),
            Case((rng.integers(0, 7, size=100), 7), label=N_("100 random labels 0-6, num_classes=7")),
        ]
    return cases


def _compare_shapes(expected: Plain, got: Plain, case: Case) -> str | None:
    """Shapes are tuples (what `.shape` gives, and what numpy takes: a list is a different thing to it)."""
    parts = got.values() if isinstance(got, dict) else got if isinstance(got, (tuple, list)) else ()
    listed = next((part for part in parts if isinstance(part, list)), None)
    problem = compare_values(expected, got)
    if problem is None and listed is not None:
        return _("the sizes are right, but {listed} is a list: a shape is a tuple, (3, 5), as `.shape` gives it. "
                 "Write each shape in round brackets, or take it from the array's .shape.").format(listed=listed)
    return problem


def _compare_with_dtype(expected: Plain, got: Plain, case: Case) -> str | None:
    """Values within float32 rounding, and the same dtype."""
    problem = compare_values(expected, got, rtol=1e-6, atol=1e-7)
    if problem is None and isinstance(expected, np.ndarray) and isinstance(got, np.ndarray) and got.dtype != expected.dtype:
        return _("the values are right, but the dtype is {got}; expected {expected}.").format(got=got.dtype, expected=expected.dtype)
    return problem


# --- plausible mistakes ---------------------------------------------------------------


def _ndims_counting_entries() -> list[int]:
    return [0, 5, 2, 3]


def _ndims_scalar_one() -> list[int]:
    return [1, 1, 2, 3]


def _shapes_scalar_one() -> list[tuple[int, ...]]:
    return [(1,), (5,), (3, 5), (2, 3, 5)]


def _shapes_vector_row() -> list[tuple[int, ...]]:
    return [(), (1, 5), (3, 5), (2, 3, 5)]


def _shapes_columns_first() -> list[tuple[int, ...]]:
    return [(), (5,), (5, 3), (5, 3, 2)]


def _data_shapes_channels_first() -> dict[str, tuple[int, ...]]:
    return {**_data_shapes(), "images": (128, 3, 256, 256)}


def _data_shapes_features_before_time() -> dict[str, tuple[int, ...]]:
    return {**_data_shapes(), "stocks": (250, 3, 390)}


def _data_shapes_no_samples_axis() -> dict[str, tuple[int, ...]]:
    return {**_data_shapes(), "videos": (960, 144, 256, 3)}


def _crop_wrong_axes(images: Array) -> Array:
    return images[14:, 14:]


def _crop_top_left(images: Array) -> Array:
    return images[:, :14, :14]


def _crop_off_by_one(images: Array) -> Array:
    return images[:, 15:, 15:]


def _prepare_transposed(images: Array) -> Array:
    return images.reshape((28 * 28, len(images))).astype("float32") / 255


def _prepare_transposed_back(images: Array) -> Array:
    return images.reshape((28 * 28, len(images))).T.astype("float32") / 255


def _crop_chained(images: Array) -> Array:
    return images[:][14:][14:]


def _prepare_by_256(images: Array) -> Array:
    return images.reshape((len(images), 28 * 28)).astype("float32") / 256


def _prepare_float64(images: Array) -> Array:
    return images.reshape((len(images), 28 * 28)) / 255


def _prepare_by_batch_max(images: Array) -> Array:
    return images.reshape((len(images), 28 * 28)).astype("float32") / images.max()


def _prepare_unscaled(images: Array) -> Array:
    return images.reshape((len(images), 28 * 28)).astype("float32")


def _one_hot_off_by_one(labels: Array, num_classes: int) -> Array:
    out = np.zeros((len(labels), num_classes), dtype="float32")
    out[np.arange(len(labels)), labels.astype(int) - 1] = 1
    return out


def _one_hot_every_column(labels: Array, num_classes: int) -> Array:
    out = np.zeros((len(labels), num_classes), dtype="float32")
    out[:, labels] = 1
    return out


def _one_hot_max_label(labels: Array, num_classes: int) -> Array:
    return _to_categorical(labels, int(labels.max()) + 1)


def _one_hot_transposed(labels: Array, num_classes: int) -> Array:
    return _to_categorical(labels, num_classes).T


def _one_hot_int(labels: Array, num_classes: int) -> Array:
    return _to_categorical(labels, num_classes).astype(int)


# --- exercises ------------------------------------------------------------------------

ndims = Exercise(
    "ch01.ndims",
    reference=_ndims,
    value=True,
    title="ndims",
    outputs=tuple(Output(f"x{i}") for i in range(4)),  # one entry per tensor of the exercise: x0 .. x3
    mistakes=[
        Mistake(
            _ndims_counting_entries,
            N_("x1 has 5 entries but only one axis: ndim counts axes, not entries. "
            "A '5-dimensional vector' is still a 1-D tensor."),
        ),
        Mistake(_ndims_scalar_one, N_("a scalar (a single number) has no axes at all: its ndim is 0.")),
    ],
)

shapes = Exercise(
    "ch01.shapes",
    reference=_shapes,
    value=True,
    title="shapes",
    compare=_compare_shapes,
    outputs=tuple(Output(f"x{i}") for i in range(4)),
    mistakes=[
        Mistake(_shapes_scalar_one, N_("a scalar has no axes, so its shape is the empty tuple (), not (1,).")),
        Mistake(_shapes_vector_row, N_("a vector has one axis: its shape is (5,), not (1, 5), which is a matrix with one row.")),
        Mistake(_shapes_columns_first, N_("a shape lists the axes in order, rows before columns: x2 has 3 rows of 5, so (3, 5).")),
    ],
)

crop_bottom_right = Exercise(
    "ch01.crop_bottom_right",
    reference=_crop_bottom_right,
    cases=_image_batches,
    title="crop_bottom_right",
    outputs=Output(axes=(Axis("samples"), Axis("rows"), Axis("columns"))),
    mistakes=[
        Mistake(
            _crop_wrong_axes,
            N_("the slice starts at the wrong axis: axis 0 counts the images (samples), axes 1 and 2 are rows "
            "and columns. Keep every image with `:` first: images[:, 14:, 14:]."),
        ),
        Mistake(_crop_top_left, N_("this is the top-left corner (rows and columns 0-13); the bottom-right one starts at 14: `14:`.")),
        Mistake(_crop_off_by_one, N_("the crop starts at 15, so it is 13 x 13; rows and columns 14 to 27 are 14 pixels: `14:`.")),
        Mistake(_crop_chained, N_("images[:][14:][14:] indexes three times, and each [...] slices axis 0 (the images) of "
                                  "what the one before gave: it keeps images, not rows and columns. Index every axis in "
                                  "one bracket, separated by commas: images[:, 14:, 14:].")),
    ],
)

prepare_images = Exercise(
    "ch01.prepare_images",
    reference=_prepare_images,
    cases=_image_batches,
    title="prepare_images",
    outputs=Output(axes=(Axis("samples"), Axis("features"))),  # one row of 784 pixels per image
    compare=_compare_with_dtype,
    mistakes=[
        Mistake(
            _prepare_transposed,
            N_("the shape is (784, n): samples come first, one row of 784 pixels per image: reshape((n, 28 * 28))."),
        ),
        Mistake(_prepare_transposed_back, N_("the shape is right but the pixels are scrambled: reshape((784, n)) and then "
                                             ".T mixes pixels of different images. reshape keeps the order of the entries, "
                                             "so reshape straight to (n, 784).")),
        Mistake(_prepare_by_256, N_("the values were divided by 256; pixels go from 0 to 255, so divide by 255 to map 255 to 1.0.")),
        Mistake(_prepare_float64, N_("the values are float64 (NumPy's default for division); convert with .astype('float32').")),
        Mistake(_prepare_unscaled, N_("the values still go from 0 to 255; divide by 255 to scale them to [0, 1].")),
        Mistake(_prepare_by_batch_max, N_("the values were divided by this batch's brightest pixel; divide by 255, the "
                "largest value a pixel can have, so the same pixel becomes the same number in every batch.")),
    ],
)

to_categorical = Exercise(
    "ch01.to_categorical",
    library_answers=(
        "gradbook.utils.to_categorical",
    ),
    reference=_to_categorical,
    cases=_label_cases,
    title="to_categorical",
    outputs=Output(axes=(Axis("samples"), Axis("classes"))),
    compare=_compare_with_dtype,
    mistakes=[
        Mistake(_one_hot_off_by_one, N_("the 1 is one column too far left (column label - 1): classes count from 0, so label k goes in column k.")),
        Mistake(_one_hot_every_column, N_("every row has a 1 in the column of every label: one_hot[:, labels] = 1 "
                                          "sets whole columns. Row i needs a single 1, in column labels[i]: "
                                          "one_hot[i, label] = 1 in the loop.")),
        Mistake(
            _one_hot_max_label,
            N_("the number of columns must be num_classes, not labels.max() + 1: a batch need not contain every class."),
        ),
        Mistake(_one_hot_transposed, N_("the result has one row per class; it needs one row per label: shape (len(labels), num_classes).")),
        Mistake(_one_hot_int, N_("the one-hot vectors are integers; make them float32, like the network's outputs (and Keras's to_categorical).")),
    ],
)

data_shapes = Exercise(
    "ch01.data_shapes",
    reference=_data_shapes,
    value=True,
    title="data_shapes",
    compare=_compare_shapes,
    mistakes=[
        Mistake(_data_shapes_channels_first, N_("images are stored channels-last here: (samples, height, width, channels).")),
        Mistake(_data_shapes_features_before_time, N_("a time series is (samples, timesteps, features): the 390 minutes come before the 3 prices.")),
        Mistake(
            _data_shapes_no_samples_axis,
            N_("the videos lost their samples axis: 4 videos of 240 frames are (samples, frames, height, width, channels), "
            "not 960 separate frames."),
        ),
    ],
)
