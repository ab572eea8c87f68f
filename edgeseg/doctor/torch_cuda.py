"""Stage 2, PyTorch CUDA: each network (registry, seed 0: the weights of a bare-name export) in FP32 and FP16
against the ONNX Runtime CPU FP32 logits the bundle carries; timed with CUDA events, eagerly and replaying a
CUDA graph (captured after warm-up on a side stream, as the PyTorch docs require)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgeseg.doctor import bundle as B
from edgeseg.doctor.common import ITERS, WARMUP, StageContext, StageSkipped, compare, dice_scores, stats


def seed0_model(name: str) -> Any:
    """The network a bare-name `edgeseg export NAME` traces (same seed, same registry defaults)."""
    import torch

    from edgeseg.export import RANDOM_INIT_SEED
    from edgeseg.models import create_model

    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_INIT_SEED)
        model = create_model(name)
    return model.eval()


def _events_ms(torch: Any, fn: Any, iters: int) -> list[float]:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    out = []
    for _ in range(iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end))
    return out


def time_eager_and_graph(torch: Any, model: Any, x: Any) -> dict[str, Any]:
    """CUDA-event latency (ms) of model(x) eagerly and as a replayed CUDA graph."""
    res: dict[str, Any] = {}
    with torch.inference_mode():
        for _ in range(WARMUP):
            model(x)
        torch.cuda.synchronize()
        res["latency_ms"] = stats(_events_ms(torch, lambda: model(x), ITERS))
        static_x = x.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream before capture (PyTorch CUDA graphs docs)
            for _ in range(3):
                model(static_x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = model(static_x)
        graph.replay()
        torch.cuda.synchronize()
        eager = model(static_x)
        diff = float((static_y.float() - eager.float()).abs().max())
        res["graph_vs_eager_max_diff"] = diff
        res["graph_matches_eager"] = diff <= 1e-3 * max(1.0, float(eager.float().abs().max()))
        res["latency_graph_ms"] = stats(_events_ms(torch, graph.replay, ITERS))
    return res


def run(ctx: StageContext) -> None:
    try:
        import torch
    except ImportError:
        raise StageSkipped("torch is not installed: pip install torch (a CUDA build)") from None
    if not torch.cuda.is_available():
        raise StageSkipped(f"torch {torch.__version__} sees no CUDA GPU (CUDA build: {torch.version.cuda}); "
                           f"install a CUDA build of torch")
    ctx.info["torch"] = torch.__version__
    ctx.info["torch_cuda"] = torch.version.cuda
    for model_name in B.NETWORKS:
        for prec in ("fp32", "fp16"):
            ctx.attempt({"model": model_name, "precision": prec, "backend": "pytorch"},
                        lambda item, m=model_name, p=prec: _check(ctx, torch, m, p, item), need_s=10)


def _check(ctx: StageContext, torch: Any, name: str, prec: str, item: dict[str, Any]) -> None:
    x_np, masks, ref = B.load_inputs(ctx.bundle, name)
    model = seed0_model(name).cuda()
    if prec == "fp16":
        model = model.half()
    dtype = torch.float16 if prec == "fp16" else torch.float32
    outs = []
    with torch.inference_mode():
        for i in range(len(x_np)):
            y = model(torch.from_numpy(x_np[i:i + 1]).cuda().to(dtype))
            outs.append(y.float().cpu().numpy())
    got = np.concatenate(outs)
    item.update(compare(got, ref, prec))
    item.update(dice_scores(got, ref, masks))
    item["input_shape"] = [1, *x_np.shape[1:]]
    item.update(time_eager_and_graph(torch, model, torch.from_numpy(x_np[:1]).cuda().to(dtype)))
    if not item["graph_matches_eager"] and item.get("status") != "fail":
        item.update(status="fail", reason="the CUDA graph replay differs from the eager output")
    del model
    torch.cuda.empty_cache()
