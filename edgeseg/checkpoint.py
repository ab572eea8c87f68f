"""Checkpoints: weights + model config + preprocessing + split + metrics, loaded with weights_only=True."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeseg.artifacts import write_bytes_atomic
from edgeseg.errors import EdgesegError

FORMAT = "edgeseg-checkpoint/1"


def save_checkpoint(path: str | Path, model: nn.Module, *, preprocess: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> None:
    """Atomically write a checkpoint. `model.edgeseg_config` (set by create_model) rebuilds the network."""
    config = getattr(model, "edgeseg_config", None)
    if config is None:
        raise ValueError("model was not built by edgeseg.models.create_model; no config to record")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "model": config, "state_dict": state,
               "preprocess": preprocess, **(extra or {})}
    buf = io.BytesIO()  # serialised first: its size is known, and a full disk is an OSError, not torch's
    torch.save(payload, buf)  # "[enforce fail at inline_container.cc] unexpected pos" RuntimeError
    write_bytes_atomic(path, buf.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such checkpoint; pass the best.pt of a training run (edgeseg train)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, foreign pickle, not a torch file
        raise EdgesegError(f"{path}: not a readable edgeseg checkpoint ({type(e).__name__}); "
                           f"re-save it with edgeseg train") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise EdgesegError(f"{path}: not an edgeseg checkpoint (format {FORMAT} expected); "
                           f"train with edgeseg train")
    cfg = payload.get("model")
    if not (isinstance(cfg, dict) and isinstance(cfg.get("name"), str) and isinstance(cfg.get("options", {}), dict)
            and isinstance(payload.get("state_dict"), dict)):
        raise EdgesegError(f"{path}: damaged edgeseg checkpoint (no model config or weights); "
                           f"re-save it with edgeseg train")
    return payload


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network from its recorded config and load its weights; returns (model.eval(), payload)."""
    from edgeseg.models import rebuild_model

    payload = read_checkpoint(path)
    cfg = payload["model"]
    try:
        model = rebuild_model({"in_channels": None, "num_classes": None, **cfg})
    except (EdgesegError, TypeError, ValueError) as e:  # a name or options this version does not have
        raise EdgesegError(f"{path}: cannot rebuild its {cfg['name']} network ({str(e).splitlines()[0][:160]}); "
                           f"retrain it with this edgeseg version") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, ValueError) as e:  # shapes/keys differ from the recorded network
        first = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), type(e).__name__)
        raise EdgesegError(f"{path}: its weights do not fit its {cfg['name']} network ({first[:200]}); "
                           f"re-save it with edgeseg train") from None
    return model.eval(), payload
