"""Person and face segmentation with the pretrained models bundled in the ``mediapipe`` wheel.

Nothing is downloaded: every model used here ships inside ``mediapipe==0.10.21``
(``mediapipe/modules/...``) and runs through mediapipe's legacy *solutions* API on the CPU:

* selfie segmentation (``general``: 256x256 input, ``landscape``: 144x256 input) gives a
  soft person mask;
* pose landmarks with segmentation (``pose_landmark_full``, model complexity 1; the
  ``heavy`` model is not in the wheel and is never requested) gives a full-body mask of the
  most prominent person, which helps for standing figures the selfie models under-segment;
* face detection (full range) gives face boxes, face mesh gives 468 landmarks per face.

Arrays in and out are NumPy: images are H x W x 3 ``uint8`` RGB, masks H x W ``float32``
in 0..1. :func:`refine` turns a low-resolution soft mask into one aligned with the image's
edges at the output resolution (threshold, guided filter, feathering).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

SEGMENTERS = ("auto", "selfie", "landscape", "pose")
ANALYSIS_SIDE = 1024        # images are analysed at most this large (the models work at <= 256 px)
MIN_PERSON_AREA = 0.01      # a person must cover at least 1% of the image to count as found

# face-mesh landmark indices (mediapipe's canonical 468-point topology)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263   # the subject's right / left outer eye corners


@dataclass
class Face:
    """One detected face, in pixel coordinates of the analysed image.

    ``box`` is (x0, y0, x1, y1); ``landmarks`` is a 468 x 2 array of (x, y) face-mesh points
    or None when only the detector found the face (too small or turned away for the mesh).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None

    @property
    def interocular(self) -> float:
        """Distance between the outer eye corners (mesh) or 0.4 x box width (detector only)."""
        if self.landmarks is not None:
            return float(np.linalg.norm(self.landmarks[RIGHT_EYE_OUTER] - self.landmarks[LEFT_EYE_OUTER]))
        return 0.4 * (self.box[2] - self.box[0])


@dataclass
class Segmentation:
    """Soft masks of one image (H x W float32, 0..1) and what they were made from."""

    person: np.ndarray
    face: np.ndarray
    faces: list[Face] = field(default_factory=list)
    pose_found: bool = False

    @property
    def person_found(self) -> bool:
        """True when a face or a body pose was detected and the person mask is not negligible."""
        return (bool(self.faces) or self.pose_found) and float((self.person > 0.5).mean()) >= MIN_PERSON_AREA


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence the C++ (absl/glog/TFLite) log lines mediapipe writes straight to file descriptor 2."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def as_rgb8(image: Image.Image | np.ndarray) -> np.ndarray:
    """A contiguous H x W x 3 uint8 RGB array (what mediapipe expects)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


def _analysis_copy(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = ANALYSIS_SIDE / max(h, w)
    if s >= 1:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR))


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if mask.shape == tuple(shape):
        return mask.astype(np.float32)
    img = Image.fromarray(mask.astype(np.float32), "F").resize((shape[1], shape[0]), Image.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def selfie_mask(image: Image.Image | np.ndarray, model: str = "selfie") -> np.ndarray:
    """Soft person mask from mediapipe selfie segmentation (``selfie`` = general, or ``landscape``)."""
    import mediapipe as mp

    rgb = as_rgb8(image)
    small = _analysis_copy(rgb)
    with _quiet_native_stderr(), mp.solutions.selfie_segmentation.SelfieSegmentation(
            model_selection=1 if model == "landscape" else 0) as seg:
        mask = seg.process(small).segmentation_mask
    return _resize_mask(np.clip(mask, 0, 1), rgb.shape[:2])


def pose_mask(image: Image.Image | np.ndarray) -> np.ndarray | None:
    """Full-body soft mask of the most prominent person (pose model), or None if no pose is found."""
    import mediapipe as mp

    rgb = as_rgb8(image)
    small = _analysis_copy(rgb)
    with _quiet_native_stderr(), mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                                        enable_segmentation=True) as pose:
        result = pose.process(small)
    if result.pose_landmarks is None or result.segmentation_mask is None:
        return None
    return _resize_mask(np.clip(result.segmentation_mask, 0, 1), rgb.shape[:2])


def _person(rgb: np.ndarray, segmenter: str) -> tuple[np.ndarray, bool]:
    """(soft person mask, whether the pose model found a body) for :func:`person_mask`."""
    if segmenter not in SEGMENTERS:
        raise ValueError(f"segmenter must be one of {', '.join(SEGMENTERS)}, not {segmenter!r}")
    if segmenter in ("selfie", "landscape"):
        return selfie_mask(rgb, segmenter), False
    body = pose_mask(rgb)
    if segmenter == "pose":
        return (np.zeros(rgb.shape[:2], np.float32) if body is None else body), body is not None
    selfie = selfie_mask(rgb)
    return (selfie if body is None else np.maximum(selfie, body)), body is not None


def person_mask(image: Image.Image | np.ndarray, segmenter: str = "auto") -> np.ndarray:
    """Soft person mask (H x W float32, 0..1) at the image's resolution.

    ``segmenter``: ``selfie`` (general selfie model), ``landscape`` (its faster 144x256
    variant), ``pose`` (full-body mask of one person; zeros when no pose is found) or
    ``auto`` = the pixel-wise maximum of ``selfie`` and ``pose``, so that both several
    people (selfie) and full standing figures (pose) are covered.
    """
    return _person(as_rgb8(image), segmenter)[0]


def detect_faces(image: Image.Image | np.ndarray, max_faces: int = 8, min_score: float = 0.5) -> list[Face]:
    """Faces in the image: full-range detector boxes, with face-mesh landmarks where the mesh fits.

    Every mesh face is returned with its landmarks; detector faces that no mesh face
    overlaps are added with ``landmarks=None`` (small or profile faces).
    """
    import mediapipe as mp

    rgb = as_rgb8(image)
    small = _analysis_copy(rgb)
    scale = rgb.shape[1] / small.shape[1]
    h, w = small.shape[:2]
    with _quiet_native_stderr():
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces,
                                             refine_landmarks=False, min_detection_confidence=min_score) as mesh:
            meshes = mesh.process(small).multi_face_landmarks or []
        with mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                       min_detection_confidence=min_score) as det:
            detections = det.process(small).detections or []
    faces = []
    for m in meshes:
        pts = np.array([(p.x * w, p.y * h) for p in m.landmark], np.float32) * scale
        faces.append(Face((*pts.min(0), *pts.max(0)), 1.0, pts))
    for d in detections:
        b = d.location_data.relative_bounding_box
        box = (b.xmin * w * scale, b.ymin * h * scale, (b.xmin + b.width) * w * scale, (b.ymin + b.height) * h * scale)
        if not any(box_overlap(box, f.box) > 0.3 for f in faces):
            faces.append(Face(box, float(d.score[0]), None))
    return faces[:max_faces]


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box's area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller if smaller > 0 else 0.0


def face_mask(shape: tuple[int, int], faces: list[Face], scale: float = 1.0, grow: float = 0.12,
              feather: float = 0.08) -> np.ndarray:
    """Soft mask (``shape`` = (H, W)) of the face ovals, grown and feathered relative to face size.

    Mesh faces use the filled face-oval polygon, detector-only faces an ellipse in their box.
    ``scale`` maps face coordinates to this shape (output size / analysed size). ``grow``
    dilates and ``feather`` blurs each face by that fraction of its box's larger side.
    """
    out = np.zeros(shape, np.float32)
    for f in faces:
        canvas = Image.new("L", (shape[1], shape[0]), 0)
        draw = ImageDraw.Draw(canvas)
        x0, y0, x1, y1 = (v * scale for v in f.box)
        size = max(x1 - x0, y1 - y0, 1.0)
        if f.landmarks is not None:
            draw.polygon([tuple(p) for p in (f.landmarks[list(FACE_OVAL)] * scale).tolist()], fill=255)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=255)
        m = np.asarray(canvas, np.float32) / 255.0
        if grow > 0:
            m = ndimage.grey_dilation(m, size=max(1, int(round(2 * grow * size)) | 1))
        if feather > 0:
            m = ndimage.gaussian_filter(m, feather * size)
        out = np.maximum(out, m)
    return np.clip(out, 0.0, 1.0)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float = 1e-3) -> np.ndarray:
    """He et al.'s guided filter: ``src`` smoothed with edges taken from ``guide`` (both H x W, 0..1)."""
    size = 2 * radius + 1

    def box(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(a, size=size, mode="reflect")

    mean_i, mean_p = box(guide), box(src)
    cov_ip = box(guide * src) - mean_i * mean_p
    var_i = box(guide * guide) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def refine(mask: np.ndarray, image: Image.Image | np.ndarray, threshold: float = 0.5,
           feather: float = 0.01) -> np.ndarray:
    """Refine a soft mask at the resolution of ``image`` (its output-size rendering).

    The mask is resized to the image, thresholded at ``threshold``, snapped to the image's
    edges with a guided filter (radius 1.5% of the long side) and feathered with a Gaussian
    of sigma ``feather`` x long side, so the weights change smoothly and leave no seams.
    """
    rgb = as_rgb8(image)
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    binary = (_resize_mask(mask, (h, w)) > threshold).astype(np.float32)
    gray = rgb.astype(np.float32).mean(axis=2) / 255.0
    soft = guided_filter(gray, binary, max(1, round(0.015 * long_side)))
    if feather > 0:
        soft = ndimage.gaussian_filter(soft, feather * long_side)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


def segment(image: Image.Image | np.ndarray, out_size: tuple[int, int] | None = None, segmenter: str = "auto",
            threshold: float = 0.5, feather: float = 0.01, max_faces: int = 8) -> Segmentation:
    """Person and face masks of ``image`` refined at ``out_size`` = (H, W) (default: the image's size)."""
    rgb = as_rgb8(image)
    h, w = out_size or rgb.shape[:2]
    at_out = rgb if (h, w) == rgb.shape[:2] else np.asarray(Image.fromarray(rgb).resize((w, h), Image.LANCZOS))
    raw, pose_found = _person(rgb, segmenter)
    faces = detect_faces(rgb, max_faces=max_faces)
    person = refine(raw, at_out, threshold, feather)
    face = face_mask((h, w), faces, scale=w / rgb.shape[1])
    return Segmentation(np.maximum(person, face), face, faces, pose_found)
