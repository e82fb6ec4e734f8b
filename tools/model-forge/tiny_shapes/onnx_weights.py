"""Load tiny-shapes torch modules from the shipped ONNX files (when the forge checkpoints are gone).

torch's exporter keeps parameter names for Conv/Gemm/LayerNorm weights, but Linear weights feeding a
MatMul become anonymous (`onnx::MatMul_1522`) and are stored transposed ([in, out]); their module is
recovered from the node name (`/down0_attn/self_attn/to_q/MatMul` -> `down0_attn.self_attn.to_q`).
Weights stored as float16 + Cast (onnx_fp16_storage) are read through the Cast. Loading is strict:
a missing or unexpected key is an error, so a wrong mapping cannot pass silently.
"""
import onnx
import torch
from onnx import numpy_helper


def node_module_path(node_name):
    """`/a/a.0/b/MatMul` -> `a.0.b` (Sequential children repeat their parent's name as a prefix)."""
    parts = [p for p in node_name.split("/") if p][:-1]
    out = []
    for p in parts:
        if out and p.startswith(out[-1] + "."):
            out[-1] = p
        else:
            out.append(p)
    return ".".join(out)


def onnx_state_dict(path):
    model = onnx.load(path)
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    casts = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Cast" and n.input[0] in inits}

    def value(name):
        if name in inits:
            return inits[name]
        if name in casts:
            return inits[casts[name]].astype("float32")
        return None

    sd = {}
    for name in list(inits) + list(casts):
        if name.startswith("onnx::") or name.endswith("_fp16") and name[:-5] in casts:
            continue
        v = value(name)
        if v is not None and v.dtype.kind == "f":
            sd[name] = torch.from_numpy(v.astype("float32").copy())
    for n in g.node:
        if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1].startswith("onnx::"):
            v = value(n.input[1])
            if v is not None and v.ndim == 2:
                sd[node_module_path(n.name) + ".weight"] = torch.from_numpy(v.T.copy())
        # GroupNorm exports as InstanceNormalization + Mul(weight [C,1,1]) + Add(bias [C,1,1])
        if n.op_type in ("Mul", "Add") and n.name.split("/")[-1] in ("Mul", "Add") and \
                len(n.input) == 2 and n.input[1].startswith("onnx::"):
            v = value(n.input[1])
            if v is not None and v.ndim == 3 and v.shape[1:] == (1, 1):
                key = node_module_path(n.name) + (".weight" if n.op_type == "Mul" else ".bias")
                sd[key] = torch.from_numpy(v.reshape(-1).astype("float32").copy())
    return sd


def load_into(module, path, prefix=""):
    sd = {k[len(prefix):]: v for k, v in onnx_state_dict(path).items() if k.startswith(prefix)}
    own = module.state_dict()
    sd = {k: v for k, v in sd.items() if k in own}
    missing = [k for k in own if k not in sd]
    if missing:
        raise RuntimeError(f"{path}: no ONNX weight for {missing[:10]} ({len(missing)} missing)")
    module.load_state_dict(sd, strict=True)
    return module
