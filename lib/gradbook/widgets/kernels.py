"""The kernel explorer (chapter 7): a 3x3 kernel slid over an MNIST digit.

    explorer = kernel_explorer()                  # real MNIST test digits
    explorer = kernel_explorer(x_train, labels=y_train)   # digits you have loaded already
    explorer.preset_dropdown.value = "sobel x"
    explorer.kernel_inputs[4].value = 2.0         # edit the centre weight (row-major order)
    explorer.index_slider.value = 7               # another digit
    explorer.feature_map                          # (26, 26): 'valid' cross-correlation, as a conv layer computes

State: ``image`` (2-D float in [0, 1]), ``kernel`` (3, 3), ``feature_map``. Controls:
``preset_dropdown``, ``kernel_inputs`` (nine FloatText, row by row), ``index_slider``.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from gradbook.i18n import N_, _
from gradbook.widgets._view import FigureView, WidgetBase

PRESETS: dict[str, np.ndarray] = {
    N_("identity"): np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    N_("edge"): np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float),
    N_("sobel x"): np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float),
    N_("sobel y"): np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=float),
    N_("blur"): np.full((3, 3), 1 / 9),
    N_("sharpen"): np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=float),
}
CUSTOM = N_("custom")


def correlate_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``out[i, j] = sum(image[i:i+kh, j:j+kw] * kernel)``: cross-correlation without padding."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    from gradbook.datasets import mnist

    _, (x_test, y_test) = mnist.load_data(verbose=False)
    return x_test, y_test


class KernelExplorer(WidgetBase):
    """Pick or edit a 3x3 kernel and see the feature map it makes of a digit."""

    def __init__(self, image: np.ndarray | None = None, kernel: str | np.ndarray = "sobel x", index: int = 0,
                 labels: np.ndarray | None = None, interactive: bool | None = None) -> None:
        if image is None:
            images, labels = _mnist_digits()
        else:
            images = np.asarray(image)
            images = images[None] if images.ndim == 2 else images
        if images.ndim != 3:
            raise ValueError(f"image must be one 2-D image or a stack (n, h, w); got shape {images.shape}")
        self.images, self.labels = images, labels
        self.index = int(index)
        self.kernel = np.array(PRESETS[kernel] if isinstance(kernel, str) else kernel, dtype=float)
        if self.kernel.shape != (3, 3):
            raise ValueError(f"kernel must be 3x3; got shape {self.kernel.shape}")
        self._syncing = False

        preset = next((n for n, k in PRESETS.items() if np.array_equal(k, self.kernel)), CUSTOM)
        self.preset_dropdown = w.Dropdown(options=[(_(name), name) for name in [*PRESETS, CUSTOM]], value=preset,
                                          description=_("kernel"))
        self.kernel_inputs = [w.FloatText(value=float(v), layout=w.Layout(width="70px"))
                              for v in self.kernel.ravel()]
        self.index_slider = w.IntSlider(value=self.index, min=0, max=len(images) - 1, description=_("digit #"),
                                        continuous_update=False, disabled=len(images) == 1)
        self.view = FigureView((9.0, 3.2), interactive)
        self._build_figure()
        self.preset_dropdown.observe(self._preset_chosen, names="value")
        for box in self.kernel_inputs:
            box.observe(self._kernel_edited, names="value")
        self.index_slider.observe(self._index_changed, names="value")
        grid = w.GridBox(self.kernel_inputs, layout=w.Layout(grid_template_columns="repeat(3, 74px)"))
        self.widget = w.VBox([w.HBox([w.VBox([self.preset_dropdown, self.index_slider]), grid]), self.view.widget])
        self._redraw()

    @property
    def image(self) -> np.ndarray:
        """The chosen image as floats; uint8 images are scaled to [0, 1]."""
        img = self.images[self.index]
        return img.astype(float) / 255 if img.dtype == np.uint8 else img.astype(float)

    @property
    def feature_map(self) -> np.ndarray:
        return correlate_valid(self.image, self.kernel)

    def set_kernel(self, kernel: np.ndarray) -> None:
        """Put ``kernel`` into the nine boxes (one redraw), naming its preset if it is one."""
        kernel = np.asarray(kernel, dtype=float)
        self._syncing = True
        try:
            for box, value in zip(self.kernel_inputs, kernel.ravel()):
                box.value = float(value)
            self.preset_dropdown.value = next((n for n, k in PRESETS.items() if np.allclose(k, kernel)), CUSTOM)
        finally:
            self._syncing = False
        self.kernel = kernel.reshape(3, 3).copy()
        self._redraw()

    def _preset_chosen(self, change: dict) -> None:
        if not self._syncing and change["new"] != CUSTOM:
            self.set_kernel(PRESETS[change["new"]])

    def _kernel_edited(self, _: dict) -> None:
        if not self._syncing:
            self.set_kernel(np.array([box.value for box in self.kernel_inputs]).reshape(3, 3))

    def _index_changed(self, change: dict) -> None:
        self.index = int(change["new"])
        self._redraw()

    def _build_figure(self) -> None:
        fig = self.view.fig
        self.ax_image, self.ax_kernel, self.ax_map = fig.subplots(
            1, 3, gridspec_kw={"width_ratios": [1, 0.8, 1]})
        fig.subplots_adjust(left=0.02, right=0.94, bottom=0.04, top=0.86, wspace=0.15)
        self._image_artist = self.ax_image.imshow(self.image, cmap="gray", vmin=0, vmax=1)
        self._kernel_artist = self.ax_kernel.imshow(self.kernel, cmap="RdBu_r", vmin=-1, vmax=1)
        self._kernel_text = [[self.ax_kernel.text(j, i, "", ha="center", va="center", fontsize=10)
                              for j in range(3)] for i in range(3)]
        self._map_artist = self.ax_map.imshow(self.feature_map, cmap="RdBu_r")
        fig.colorbar(self._map_artist, ax=self.ax_map, fraction=0.046, pad=0.03)
        self.ax_kernel.set_title(_("kernel (3x3)"), fontsize=10)
        self.ax_map.set_title(_("feature map (cross-correlation)"), fontsize=10)
        for ax in (self.ax_image, self.ax_kernel, self.ax_map):
            ax.set_xticks([])
            ax.set_yticks([])

    def _redraw(self) -> None:
        image, fmap = self.image, self.feature_map
        self._image_artist.set_data(image)
        if self.labels is not None:
            title = _("digit #{index}, label {label}").format(index=self.index, label=self.labels[self.index])
        else:
            title = _("digit #{index}").format(index=self.index)
        self.ax_image.set_title(title, fontsize=10)
        k_lim = max(float(np.abs(self.kernel).max()), 1e-9)
        self._kernel_artist.set_data(self.kernel)
        self._kernel_artist.set_clim(-k_lim, k_lim)
        for (i, j), value in np.ndenumerate(self.kernel):
            text = self._kernel_text[i][j]
            text.set_text(f"{value:.2g}")
            text.set_color("w" if abs(value) > 0.6 * k_lim else "k")  # readable on the dark cells
        # A symmetric colour range: positive responses red, negative blue, zero white.
        m_lim = max(float(np.abs(fmap).max()), 1e-9)
        self._map_artist.set_data(fmap)
        self._map_artist.set_clim(-m_lim, m_lim)
        self.view.draw()


def kernel_explorer(image: np.ndarray | None = None, kernel: str | np.ndarray = "sobel x", index: int = 0,
                    labels: np.ndarray | None = None, **options) -> KernelExplorer:
    """A `KernelExplorer` for one image, a stack (n, h, w) with optional labels, or (no image) the
    MNIST test digits. Display it as a cell's last line."""
    return KernelExplorer(image, kernel, index, labels, **options)
