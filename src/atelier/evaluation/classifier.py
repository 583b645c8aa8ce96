"""Artist classifier on VGG style statistics of several crops, for the deception rate.

Features (one row per crop, float32)
    The image is resized to long side ``DESCRIPTOR_SIZE`` and run once through the bundled
    VGG19. A crop is a window of the feature maps: the whole map and a 3 x 3 grid of
    half-size windows (``CROPS`` = 10; windows of the maps rather than of the image, so one
    forward pass serves all ten). Per crop, concatenated:

    * the per-channel mean and std of relu1_1 .. relu5_1 (2 x 1472 numbers, square-rooted:
      the activations are heavy-tailed), the old whole-image descriptor;
    * the covariance of relu1_1 .. relu4_1 (C = 64 .. 512) after a fixed seeded random
      projection of the channels to ``RANK`` = 48 dims, upper triangle (4 x 1176 numbers),
      signed-square-rooted: a sketch ``P Cov P^T`` of the Gram/covariance that carries
      texture and brushwork, at a size a few hundred works can train.
Model
    scikit-learn ``StandardScaler`` + ``PCA`` (at most ``PCA_DIMS`` components) + multinomial
    ``LogisticRegression(C)`` on crop rows, with ``C`` chosen from ``C_GRID`` by grouped
    cross-validation (the crops of one work are never split between train and test). All
    three are linear, so the fitted model is saved as one ``(K, D)`` matrix and intercept
    (``.npz``, no pickle). A work's prediction averages its crops' class probabilities.
Deception
    A stylization *deceives* when the classifier's top prediction is the artist of the style
    image used. The style images of an evaluation are held out of training, so the
    classifier's accuracy on those originals (its held-out accuracy) is reported beside the
    deception rate: it is the ceiling a perfect stylization could reach.

Numbers on ``../shared/data`` (28 artists with >= 5 works, 6 with >= 10): ``docs/evaluation.md``,
reproduced by ``benchmarks/bench_classifier.py``.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..base.cache import cache_dir
from ..base.errors import UsageError
from ..base.files import atomic_write
from ..io.images import ImageLike, load_image, resize_long_side, to_tensor
from .metrics import STYLE_LAYERS, vgg_features

DESCRIPTOR_SIZE = 256
CLASSIFIER_FEATURES_VERSION = "crops10-meanstd-cov48-v2"  # of :func:`descriptor` (the library's has its own)
COV_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
RANK = 48
GRID = 3  # GRID x GRID half-size windows, plus the whole map
CROPS = 1 + GRID * GRID
PCA_DIMS = 256
C_GRID = (0.001, 0.01, 0.1, 1.0)
FOLDS = 5


# --- features (pure tensor code) ------------------------------------------------------

def crop_boxes(grid: int = GRID) -> list[tuple[float, float, float, float]]:
    """Crop windows as fractions ``(top, bottom, left, right)``: the whole map, then a
    ``grid x grid`` lattice of half-size windows (offsets ``0 .. 1/2``)."""
    offsets = [i / (2 * (grid - 1)) for i in range(grid)] if grid > 1 else [0.25]
    return [(0.0, 1.0, 0.0, 1.0)] + [(t, t + 0.5, s, s + 0.5) for t in offsets for s in offsets]


def projection(channels: int, rank: int = RANK, seed: int = 0) -> torch.Tensor:
    """A fixed Gaussian random projection ``rank x channels`` (scaled by 1/sqrt(channels))."""
    g = torch.Generator().manual_seed(seed * 1009 + channels)
    return torch.randn(rank, channels, generator=g) / channels ** 0.5


def _window(fmap: torch.Tensor, box: tuple[float, float, float, float]) -> torch.Tensor:
    """The ``box`` window of a C x H x W map, flattened to C x N (at least one position)."""
    _, h, w = fmap.shape
    t, b = min(int(box[0] * h), h - 1), max(round(box[1] * h), 1)
    left, right = min(int(box[2] * w), w - 1), max(round(box[3] * w), 1)
    return fmap[:, t:max(b, t + 1), left:max(right, left + 1)].flatten(1)


def _signed_sqrt(x: torch.Tensor) -> torch.Tensor:
    return x.sign() * x.abs().sqrt()


def crop_features(feats: dict[str, torch.Tensor], boxes: Sequence[tuple[float, float, float, float]] | None = None
                  ) -> np.ndarray:
    """Features of each crop window of the 1 x C x H x W maps ``feats`` (``STYLE_LAYERS``):
    ``(len(boxes), 2 * 1472 + 4 * RANK (RANK + 1) / 2)`` float32 (see the module docstring)."""
    boxes = list(boxes or crop_boxes())
    upper = torch.triu_indices(RANK, RANK)
    rows = []
    for box in boxes:
        parts = []
        for name in STYLE_LAYERS:
            v = _window(feats[name][0].float(), box)
            parts += [v.mean(1).clamp_min(0).sqrt(), v.std(1, unbiased=False).sqrt()]
        for name in COV_LAYERS:
            v = _window(feats[name][0].float(), box)
            z = projection(v.shape[0]) @ (v - v.mean(1, keepdim=True))
            cov = z @ z.T / v.shape[1]
            parts.append(_signed_sqrt(cov[upper[0], upper[1]]))
        rows.append(torch.cat(parts))
    return torch.stack(rows).numpy().astype(np.float32)


def descriptor(image: ImageLike, size: int | None = None) -> np.ndarray:
    """Crop features ``(CROPS, D)`` of one image at long side ``size`` (default ``DESCRIPTOR_SIZE``)."""
    x = to_tensor(resize_long_side(load_image(image), size or DESCRIPTOR_SIZE))
    return crop_features(vgg_features(x, STYLE_LAYERS))


# --- the model ------------------------------------------------------------------------

@dataclass
class ArtistClassifier:
    """A fitted linear classifier of crop features, as plain arrays."""

    classes: np.ndarray      # (K,) artist names
    mean: np.ndarray         # (D,)
    scale: np.ndarray        # (D,)
    coef: np.ndarray         # (K, D)
    intercept: np.ndarray    # (K,)
    info: dict = field(default_factory=dict)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """N x K decision scores (logits) of crop rows ``X`` (N x D)."""
        return ((np.atleast_2d(X) - self.mean) / self.scale) @ self.coef.T + self.intercept

    def probabilities(self, works: Sequence[np.ndarray]) -> np.ndarray:
        """W x K class probabilities of works, each given as its crop rows (n_crops x D):
        the mean of the crops' softmax probabilities."""
        out = []
        for crops in works:
            s = self.scores(crops)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            out.append((p / p.sum(axis=1, keepdims=True)).mean(axis=0))
        return np.array(out).reshape(len(out), len(self.classes))

    def predict(self, works: Sequence[np.ndarray]) -> np.ndarray:
        """The most probable artist of each work (crop rows, see :meth:`probabilities`)."""
        return self.classes[self.probabilities(works).argmax(axis=1)]

    def save(self, path: Path) -> None:
        """Write the classifier to ``path`` (``.npz``) atomically."""
        with atomic_write(path) as tmp:
            np.savez(tmp, classes=self.classes.astype(str), mean=self.mean, scale=self.scale, coef=self.coef,
                     intercept=self.intercept, info_keys=np.array(list(self.info), dtype=str),
                     info_values=np.array([str(v) for v in self.info.values()], dtype=str))

    @classmethod
    def load(cls, path: Path) -> ArtistClassifier:
        with np.load(path, allow_pickle=False) as z:
            info = dict(zip(z["info_keys"].tolist(), z["info_values"].tolist(), strict=True))
            return cls(z["classes"], z["mean"], z["scale"], z["coef"], z["intercept"], info)


def crop_rows(works: Sequence[np.ndarray], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack works' crop rows: ``(X (N x D), artist per row, work index per row)``."""
    X = np.concatenate(list(works))
    y = np.concatenate([[a] * len(w) for w, a in zip(works, labels, strict=True)])
    groups = np.concatenate([[i] * len(w) for i, w in enumerate(works)])
    return X, y, groups


@dataclass
class Projection:
    """The unsupervised part of the model: standardiser and PCA, fitted on crop rows."""

    mean: np.ndarray         # (D,)
    scale: np.ndarray        # (D,)
    components: np.ndarray   # (P, D) orthonormal rows
    centre: np.ndarray       # (D,) PCA mean of the standardised rows

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """N x D rows -> N x P coordinates."""
        return ((X - self.mean) / self.scale - self.centre) @ self.components.T


def fit_projection(X: np.ndarray, dims: int = PCA_DIMS) -> Projection:
    """StandardScaler + randomized PCA (at most ``dims`` components) of the rows ``X`` (N x D)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    pca = PCA(min(dims, len(Z) - 1, Z.shape[1]), svd_solver="randomized", random_state=0).fit(Z)
    return Projection(scaler.mean_, scaler.scale_, pca.components_, pca.mean_)


def fit_head(proj: Projection, X: np.ndarray, y: np.ndarray, c: float) -> ArtistClassifier:
    """Multinomial logistic regression (``C = c``) on ``proj(X)``, folded with ``proj`` into one linear map."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        raise UsageError("the artist classifier needs works of at least 2 artists")
    model = LogisticRegression(C=c, max_iter=2000).fit(proj(X), y)
    w, b = np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)
    if len(model.classes_) == 2:  # sklearn keeps one logit (class 1 vs 0); softmax([0, s]) is the same model
        w, b = np.vstack([np.zeros_like(w), w]), np.concatenate([[0.0], b])
    coef = w @ proj.components
    return ArtistClassifier(model.classes_, proj.mean, proj.scale, coef, b - coef @ proj.centre)


def fit(works: Sequence[np.ndarray], labels: Sequence[str], c: float = 0.01, dims: int = PCA_DIMS
        ) -> ArtistClassifier:
    """Fit standardiser + PCA + multinomial logistic regression on the crops of ``works``
    (each n_crops x D) with one artist label per work (>= 2 artists); folded into one linear map."""
    if len(set(labels)) < 2:
        raise UsageError("the artist classifier needs works of at least 2 artists")
    X, y, _ = crop_rows(works, labels)
    return fit_head(fit_projection(X, dims), X, y, c)


def grouped_folds(labels: Sequence[str], groups: Sequence[int], folds: int = FOLDS, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified grouped k-fold over rows: ``(train, test)`` row indices, every group (work)
    wholly on one side. ``folds`` is capped by the smallest number of groups per label."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels, groups = np.asarray(labels), np.asarray(groups)
    per_label = Counter(labels[np.unique(groups, return_index=True)[1]].tolist())
    folds = max(2, min(folds, min(per_label.values())))
    split = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    return list(split.split(np.zeros(len(labels)), labels, groups))


FitFn = Callable[[Sequence[np.ndarray], Sequence[str]], ArtistClassifier]


def cross_val_predict(works: Sequence[np.ndarray], labels: Sequence[str], fit_fn: FitFn,
                      folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Out-of-fold artist prediction of every work (grouped folds of :func:`grouped_folds`)."""
    _, y, groups = crop_rows(works, labels)
    pred = np.empty(len(works), dtype=object)
    for train, test in grouped_folds(y, groups, folds, seed):
        tr, te = np.unique(groups[train]), np.unique(groups[test])
        clf = fit_fn([works[i] for i in tr], [labels[i] for i in tr])
        pred[te] = clf.predict([works[i] for i in te])
    return pred.astype(str)


def cross_val_accuracy(works: Sequence[np.ndarray], labels: Sequence[str], c: float = 0.01,
                       folds: int = FOLDS, seed: int = 0) -> float:
    """Grouped k-fold work accuracy of :func:`fit` with ``C = c``."""
    pred = cross_val_predict(works, labels, lambda w, a: fit(w, a, c), folds, seed)
    return float(np.mean(pred == np.asarray(labels)))


def select_c(works: Sequence[np.ndarray], labels: Sequence[str], grid: Sequence[float] = C_GRID,
             folds: int = 3, seed: int = 0) -> tuple[float, dict[float, float]]:
    """The ``C`` of ``grid`` with the best grouped cross-validated work accuracy (ties: the
    smaller, more regularised one), and the accuracy of each. Each fold's projection is
    fitted once and shared by the values of ``C``."""
    X, y, groups = crop_rows(works, labels)
    work_label = np.asarray(labels)
    hits = {c: 0 for c in grid}
    for train, test in grouped_folds(y, groups, folds, seed):
        proj = fit_projection(X[train])
        te = np.unique(groups[test])
        for c in grid:
            pred = fit_head(proj, X[train], y[train], c).predict([works[i] for i in te])
            hits[c] += int((pred == work_label[te]).sum())
    accs = {c: hits[c] / len(works) for c in grid}
    return max(grid, key=lambda c: (accs[c], -c)), accs


def fit_selected(works: Sequence[np.ndarray], labels: Sequence[str], grid: Sequence[float] = C_GRID
                 ) -> ArtistClassifier:
    """:func:`fit` with ``C`` chosen by :func:`select_c` on the same works (its ``info`` says which)."""
    c, accs = select_c(works, labels, grid)
    clf = fit(works, labels, c)
    clf.info = {"C": c, "cv_accuracy": round(accs[c], 4)}
    return clf


# --- the labelled artworks of a data folder -----------------------------------------

@dataclass(frozen=True)
class Artwork:
    path: Path
    artist: str
    sha256: str


def read_manifest(data: Path) -> list[Artwork]:
    """Artworks (``kind == style`` with an artist) listed in ``DATA/MANIFEST.csv``."""
    manifest = Path(data) / "MANIFEST.csv"
    if not manifest.is_file():
        raise UsageError(f"no MANIFEST.csv in {data} (expected the shared data folder)")
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and not {"file", "artist", "kind"} <= set(rows[0]):
        raise UsageError(f"{manifest} lacks the columns file, artist, kind")
    return [Artwork(Path(data) / r["file"], r["artist"], r.get("sha256") or "") for r in rows
            if r["kind"] == "style" and r["artist"]]


def eligible_artists(works: Iterable[Artwork], min_works: int) -> set[str]:
    """Artists with at least ``min_works`` works."""
    counts = Counter(w.artist for w in works)
    return {a for a, n in counts.items() if n >= min_works}


def cached_descriptors(works: Sequence[Artwork], progress: Callable[[Artwork], None] | None = None
                       ) -> list[np.ndarray]:
    """Crop features ``(CROPS, D)`` of each of ``works``, read from / added to a per-file cache
    keyed by sha256 (float16 on disk, float32 back)."""
    folder = cache_dir() / "descriptors" / f"{CLASSIFIER_FEATURES_VERSION}-{DESCRIPTOR_SIZE}px"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for w in works:
        key = w.sha256 or hashlib.sha256(w.path.read_bytes()).hexdigest()
        path = folder / f"{key}.npy"
        if path.is_file():
            out.append(np.load(path).astype(np.float32))
        else:
            d = descriptor(w.path)
            with atomic_write(path) as tmp:
                np.save(tmp, d.astype(np.float16))
            out.append(d.astype(np.float16).astype(np.float32))
        if progress is not None:
            progress(w)
    return out


def train_from_manifest(data: Path, held_out: Iterable[Path] = (), min_works: int = 4,
                        progress: Callable[[Artwork], None] | None = None) -> ArtistClassifier:
    """Train (or load from the cache) the artist classifier on ``DATA``'s artworks.

    Artists with at least ``min_works`` works are the classes; files in ``held_out`` are
    left out of training. ``C`` is chosen by grouped cross-validation (:func:`fit_selected`);
    the classifier's ``info`` records the training set size, ``C`` and its cross-validated
    accuracy. It is cached under :func:`cache_dir` by the hash of its training files and
    settings, never in the project.
    """
    works = read_manifest(data)
    artists = eligible_artists(works, min_works)
    held = {Path(p).resolve() for p in held_out}
    train = [w for w in works if w.artist in artists and w.path.resolve() not in held]
    if len(eligible_artists(train, 2)) < 2:
        raise UsageError(f"too few labelled artworks in {data} to train an artist classifier")
    settings = [CLASSIFIER_FEATURES_VERSION, str(DESCRIPTOR_SIZE), str(PCA_DIMS), ",".join(map(str, C_GRID))]
    key_src = "\n".join(settings + sorted(w.sha256 or str(w.path) for w in train))
    path = cache_dir() / "classifier" / f"{hashlib.sha256(key_src.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        return ArtistClassifier.load(path)
    labels = [w.artist for w in train]
    clf = fit_selected(cached_descriptors(train, progress), labels)
    clf.info = {"n_train": len(train), "n_artists": len(set(labels)), **clf.info,
                "descriptor": CLASSIFIER_FEATURES_VERSION, "min_works": min_works}
    path.parent.mkdir(parents=True, exist_ok=True)
    clf.save(path)
    return clf


def predict_artist(clf: ArtistClassifier, images: Sequence[ImageLike]) -> list[str]:
    """The classifier's artist for each image (crop probabilities averaged)."""
    return clf.predict([descriptor(im) for im in images]).tolist() if images else []
