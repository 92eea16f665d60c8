# usage: PYTHON test/reference/k_decay_schedules.py [OUT.json]
#   PYTHON: a Python with torch and timm 1.0.29, e.g. a venv made with
#     /usr/bin/python3 -m venv VENV --system-site-packages
#     VENV/bin/pip install --no-index --find-links /opt/pypi/files --no-deps timm==1.0.29
#
# Writes the timm reference learning-rate sequences of k-decay (Zhang & Li 2020, arXiv 2004.05909)
# that test/schedule-k-decay.test.ts checks WarmRestarts({kDecay}) against (default OUT.json:
# test/reference/lr-schedules.timm-k-decay.json next to this script). It runs timm's own
# CosineLRScheduler (timm.scheduler.cosine_lr, k_decay=k) on a one-parameter SGD optimizer and
# records the LR of every training step:
#   epoch mode:     t_in_epochs=True; lr[e] is the LR after scheduler.step(e), the LR of epoch e.
#   iteration mode: t_in_epochs=False, t_initial = T_0 * k steps; lr[n] is the LR after
#                   scheduler.step_update(n), the LR of batch i = n mod k of epoch e = n div k.
# timm's vocabulary against ours: t_initial = T_0 (times k per iteration), cycle_mul = T_mult,
# lr_min = eta_min, cycle_decay = decay, cycle_limit = the number of cycles (timm's default is 1:
# one cycle, then lr_min; these cases pass a limit past the run, i.e. unlimited restarts, or a small
# one where the case says so), warmup_t = 0.
# The output is deterministic: fixed key order, floats as Python's repr (shortest round trip).
import json
import math
import os
import sys
import warnings

import timm
import torch
from timm.scheduler.cosine_lr import CosineLRScheduler

CONVENTION = (
    "Reference k-decay learning-rate sequences from timm's CosineLRScheduler (k_decay=k).\n"
    "Usage: PYTHON test/reference/k_decay_schedules.py [OUT.json] (PYTHON with torch and timm 1.0.29)\n"
    "Epoch mode: lr[e] after scheduler.step(e) with t_in_epochs=True.\n"
    "Iteration mode: t_in_epochs=False, t_initial=T_0*k; lr[e*k+i] after scheduler.step_update(e*k+i).\n"
    "Mapping: t_initial=T_0, cycle_mul=T_mult, lr_min=eta_min, cycle_decay=decay, cycle_limit=cycles\n"
    "(a limit past the run for unlimited restarts), warmup_t=0, no noise."
)

UNLIMITED = 10**6


def case(name, T_0, T_mult, eta_min, base_lr, k, epochs, steps_per_epoch=None, decay=1.0, cycle_limit=UNLIMITED):
    c = {"name": name, "scheduler": "timm.CosineLRScheduler", "mode": "epoch" if steps_per_epoch is None else "iteration"}
    if steps_per_epoch is not None:
        c["steps_per_epoch"] = steps_per_epoch
    c["params"] = {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min, "base_lr": base_lr, "k_decay": k, "decay": decay, "cycle_limit": cycle_limit}
    c["epochs"] = epochs
    return c


CASES = [
    # The paper's range of k (1 is plain SGDR, as a control), epoch by epoch.
    case("k2-epoch-T010-Tm1", 10, 1, 0.0, 0.1, 2.0, 60),
    case("k3-epoch-T05-Tm2", 5, 2, 0.0, 0.1, 3.0, 75),
    case("k0.5-epoch-T08-Tm1", 8, 1, 0.001, 0.1, 0.5, 48),
    case("k1-epoch-T010-Tm2", 10, 2, 0.0, 0.1, 1.0, 70),
    case("k1.5-epoch-T03-Tm2-eta", 3, 2, 0.0005, 0.05, 1.5, 45),
    case("k2-epoch-T06-Tm1-decay", 6, 1, 0.0, 0.1, 2.0, 36, decay=0.5),
    case("k2-epoch-T04-Tm1-limit3", 4, 1, 0.001, 0.1, 2.0, 20, cycle_limit=3),
    # Per batch (the library anneals every batch): T_0 in steps.
    case("k2-iter-T01-Tm2-k7", 1, 2, 0.0001, 0.05, 2.0, 31, steps_per_epoch=7),
    case("k4-iter-T05-Tm1-k10", 5, 1, 0.0, 0.1, 4.0, 20, steps_per_epoch=10),
    case("k0.7-iter-T03-Tm3-k4", 3, 3, 0.0, 0.1, 0.7, 39, steps_per_epoch=4),
]


def run(c):
    p = c["params"]
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=p["base_lr"])
    k = c.get("steps_per_epoch")
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=p["T_0"] * (k or 1),
        lr_min=p["eta_min"],
        cycle_mul=p["T_mult"],
        cycle_decay=p["decay"],
        cycle_limit=p["cycle_limit"],
        warmup_t=0,
        t_in_epochs=k is None,
        k_decay=p["k_decay"],
    )
    lr = []
    if k is None:
        for e in range(c["epochs"]):
            scheduler.step(e)
            lr.append(optimizer.param_groups[0]["lr"])
    else:
        for n in range(c["epochs"] * k):
            scheduler.step_update(n)
            lr.append(optimizer.param_groups[0]["lr"])
    assert all(isinstance(v, float) and math.isfinite(v) for v in lr), c["name"]
    return lr


def main():
    if len(sys.argv) > 2:
        sys.exit("usage: PYTHON test/reference/k_decay_schedules.py [OUT.json]")
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr-schedules.timm-k-decay.json")
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in CASES:
            cases.append({**c, "lr": run(c)})
    doc = {"generator": f"timm {timm.__version__} timm.scheduler.cosine_lr.CosineLRScheduler", "convention": CONVENTION, "cases": cases}
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(doc, indent=1, ensure_ascii=True, allow_nan=False) + "\n")
    print(f"wrote {out}: {len(cases)} cases, {sum(len(c['lr']) for c in cases)} values ({doc['generator']})")


if __name__ == "__main__":
    main()
