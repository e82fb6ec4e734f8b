"""Store an ONNX model's large float32 weights as float16 + a Cast node, halving the file size.

The graph's inputs, outputs and arithmetic stay float32: onnxruntime folds each Cast into a float32
constant when the session is created. The torch weights are rounded to float16 precision
(round_weights_to_fp16) before export, so the cast back is exact and torch and ONNX still agree.
"""
import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

MIN_ELEMENTS = 256  # small tensors (norm scales, biases) are not worth a Cast node


def round_weights_to_fp16(module):
    with torch.no_grad():
        for p in module.parameters():
            if p.numel() >= MIN_ELEMENTS:
                p.copy_(p.half().float())


def store_weights_as_fp16(path):
    model = onnx.load(path)
    graph = model.graph
    casts, keep = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == onnx.TensorProto.FLOAT and arr.size >= MIN_ELEMENTS:
            half = arr.astype(np.float16)
            assert np.array_equal(half.astype(np.float32), arr), f"{init.name} is not fp16-exact"
            keep.append(numpy_helper.from_array(half, init.name + "_fp16"))
            casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], to=onnx.TensorProto.FLOAT,
                                          name=init.name + "_cast"))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)
