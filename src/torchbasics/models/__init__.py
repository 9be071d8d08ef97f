"""Models built by name: ``create_model("cnn", (1, 28, 28), 10)``, or ``("linear", (3,), 1)``.

Every model module is imported here explicitly so that it registers itself; the import
order is the order ``list_models()`` gives (simplest model first).
"""

# isort: off
from torchbasics.models import linear  # noqa: F401  (registration)
from torchbasics.models import mlp  # noqa: F401
from torchbasics.models import cnn  # noqa: F401

# isort: on
from torchbasics.models._registry import (
    MODEL_SETTINGS,
    check_model_settings,
    count_parameters,
    create_model,
    get_model_entry,
    list_models,
    register_model,
    setting_defaults,
)

__all__ = ["MODEL_SETTINGS", "check_model_settings", "count_parameters", "create_model",
           "get_model_entry", "list_models", "register_model", "setting_defaults"]
