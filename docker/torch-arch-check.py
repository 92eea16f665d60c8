"""Build-time check of the base image's torch (docker/Dockerfile.gpu runs it; no GPU is needed).

Our addon compiles no CUDA kernels of its own: the GPUs it can run on are exactly the ones the
image's LibTorch has kernels for. This prints that list and exits 1 unless torch is a CUDA build
whose kernels include every architecture in REQUIRED (Ampere A100 sm_80, Hopper H100/H200 sm_90).

torch.cuda.get_arch_list() cannot be used here: it returns [] when no GPU is visible, as during
`docker build`. torch._C._cuda_getArchFlags() returns the compile-time list as one string
(e.g. "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120", a compute_NN entry for PTX) without touching a
driver; it is missing on CPU-only builds and returns None on builds without the list.
"""
import sys

import torch

REQUIRED = ("sm_80", "sm_90")
# A cubin runs on the GPUs of its major version at the same or a higher minor version.
SERVES = {
    "sm_75": "Turing (T4, RTX 20)",
    "sm_80": "Ampere A100, A30",
    "sm_86": "Ampere A10, A40, RTX 30, RTX A-series; and Ada (sm_89: L4, L40S, RTX 40)",
    "sm_90": "Hopper H100, H200, GH200",
    "sm_100": "Blackwell B200, GB200 (and B300/GB300, sm_103)",
    "sm_120": "Blackwell RTX 50, RTX PRO 6000 (and GB10/DGX Spark, sm_121)",
}

get_flags = getattr(torch._C, "_cuda_getArchFlags", None)
flags = (get_flags() or "") if get_flags is not None else ""
archs = flags.split()

print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, from {torch.__file__}")
print(f"torch._C._cuda_getArchFlags(): {flags or '(none)'}")
for arch in archs:
    if arch in SERVES:
        print(f"  {arch}: {SERVES[arch]}")

if torch.version.cuda is None:
    sys.exit("torch-arch-check: this torch is not a CUDA build; use a pytorch/pytorch *-cuda* image")
missing = [a for a in REQUIRED if a not in archs]
if missing:
    sys.exit(f"torch-arch-check: the image's torch has no {', '.join(missing)} kernels "
             f"(it has: {flags or 'none'}); pick a base image whose torch is built for them")
print(f"torch-arch-check: ok ({', '.join(REQUIRED)} present)")
