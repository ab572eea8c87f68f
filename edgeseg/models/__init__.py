"""The six seed networks (+ Ghost U-Net, and two papers' own U-Net baselines) behind one registry.

Importing this package registers them."""

from edgeseg.models.registry import (
    ModelInfo,
    check_input_size,
    create_model,
    get_model_info,
    list_models,
    rebuild_model,
    register_model,
)

# One module per architecture; importing registers it.
from edgeseg.models import unet  # noqa: E402,F401  isort: skip
from edgeseg.models import sdunet  # noqa: E402,F401  isort: skip
from edgeseg.models import tinyunet  # noqa: E402,F401  isort: skip
from edgeseg.models import ulite  # noqa: E402,F401  isort: skip
from edgeseg.models import gpunet  # noqa: E402,F401  isort: skip
from edgeseg.models import unetsharp  # noqa: E402,F401  isort: skip
from edgeseg.models import baselines  # noqa: E402,F401  isort: skip

__all__ = ["ModelInfo", "check_input_size", "create_model", "get_model_info", "list_models", "rebuild_model",
           "register_model"]
