"""torchvision's Python models and transforms, also where its C++ operators cannot load.

Why: `import torchvision` runs torchvision/__init__.py, which loads torchvision's compiled
extension and registers its C++ operators (nms, roi_align, ...: detection ops). A torchvision
built for CUDA, the only kind these machines carry for PyTorch 2.x, fails there with a CPU torch
("operator torchvision::nms does not exist"). The parts our references use (models.resnet*,
transforms, datasets.ImageFolder) are plain Python and never call those operators.

So: import torchvision as usual; only when that fails, drop the half-imported modules and load the
same installed package with its top-level __init__ skipped (a package object whose __path__ is
torchvision's folder), so `torchvision.models.resnet18` is torchvision's own code, file for file.
`torchvision.compat_mode` says which way it was loaded: "full" or "python-only".

Use: `from torchvision_compat import torchvision` before any other torchvision import (this file's
folder must be on sys.path: scripts run from scripts/ have it; the tests put it on PYTHONPATH).
"""
import importlib
import importlib.metadata
import importlib.util
import sys
import types


def _load():
    try:
        import torchvision

        torchvision.compat_mode = "full"
        return torchvision
    except (RuntimeError, ImportError, OSError) as err:
        failure = err
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise failure
    pkg = types.ModuleType("torchvision")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__spec__ = spec
    pkg.__file__ = spec.origin
    pkg.__version__ = importlib.metadata.version("torchvision")
    pkg.compat_mode = "python-only"
    pkg.compat_reason = f"{type(failure).__name__}: {failure}"
    # The few functions __init__.py itself defines that the Python modules call back into
    # (datasets.folder.default_loader asks get_image_backend()), as torchvision defines them.
    pkg._image_backend = "PIL"
    pkg.get_image_backend = lambda: pkg._image_backend
    pkg.get_video_backend = lambda: "pyav"

    def set_image_backend(backend):
        if backend not in ["PIL", "accimage"]:
            raise ValueError(f"Invalid backend '{backend}'. Options are 'PIL' and 'accimage'")
        pkg._image_backend = backend

    pkg.set_image_backend = set_image_backend
    pkg._is_tracing = lambda: __import__("torch")._C._get_tracing_state()
    sys.modules["torchvision"] = pkg
    for sub in ("models", "transforms", "datasets"):
        setattr(pkg, sub, importlib.import_module(f"torchvision.{sub}"))
    return pkg


torchvision = _load()
