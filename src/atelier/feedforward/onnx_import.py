"""Read the weights out of an ONNX graph as float tensors (for porting a network to torch).

Only the ``onnx`` protobuf reader is used, never a runtime. Quantized graphs are handled by
folding every ``DequantizeLinear`` whose input is a stored tensor into the float tensor it
stands for, ``(q - zero_point) * scale`` (per tensor, or per channel along ``axis``);
activation ``QuantizeLinear``/``DequantizeLinear`` pairs are skipped (the port computes in
float). What comes out is the list of convolutions in graph order, each with its float
weight and bias and the name of the tensor it writes, plus the other stored tensors by name;
mapping them onto a module is the port's business (see :mod:`.conditional`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..base.errors import UsageError


@dataclass
class ConvWeights:
    """One ``Conv`` node: ``weight`` (C_out x C_in/groups x k x k), ``bias`` (C_out) or None."""

    output: str  # name of the tensor the node writes (carries the layer's name in TF exports)
    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: int
    groups: int


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int) -> np.ndarray:
    q, scale, zero = q.astype(np.float32), scale.astype(np.float32), zero.astype(np.float32)
    if scale.ndim == 1 and scale.size > 1:  # per-channel
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q - zero) * scale


def read_graph(path: str | os.PathLike) -> tuple[list[ConvWeights], dict[str, torch.Tensor]]:
    """The float weights of the ONNX file at ``path``: (conv nodes in graph order, all constants by name)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ModuleNotFoundError:
        raise UsageError("the 'onnx' package is needed to read ONNX weights: pip install onnx") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types for bad files
        raise UsageError(f"cannot read ONNX file {path}: {str(exc).splitlines()[0]}") from None
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs: list[ConvWeights] = []
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant" and "value" in attrs:
            consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
        elif node.op_type == "DequantizeLinear" and node.input[0] in consts:
            q = consts[node.input[0]]
            zero = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(())
            consts[node.output[0]] = _dequantize(q, consts[node.input[1]], zero, attrs.get("axis", 1))
        elif node.op_type == "Conv":
            if node.input[1] not in consts:
                raise UsageError(f"{path}: conv {node.output[0]!r} has no stored weight")
            bias = consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            convs.append(ConvWeights(node.output[0], torch.from_numpy(np.array(consts[node.input[1]], np.float32)),
                                     None if bias is None else torch.from_numpy(np.array(bias, np.float32)),
                                     int(attrs.get("strides", [1])[0]), int(attrs.get("group", 1))))
    tensors = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in consts.items()
               if np.issubdtype(np.asarray(v).dtype, np.floating)}
    return convs, tensors
