# usage: /usr/bin/python3 test/reference/lr_schedules.py [OUT.json]
#
# Writes the PyTorch reference learning-rate sequences that test/schedule-reference.test.ts and
# test/cli-schedule.test.ts check our schedules against (default OUT.json:
# test/reference/lr-schedules.pytorch.json next to this script). It runs PyTorch's own
# CosineAnnealingWarmRestarts and StepLR (torch.optim.lr_scheduler, 1.13 or 2.x) on a one-parameter
# SGD optimizer and records the LR of every training step:
#   epoch mode:     lr[e] is the LR of epoch e; the scheduler takes its implicit step() once per epoch.
#   iteration mode: lr[e*k + i] is the LR after scheduler.step(e + i/k), batch i of k in epoch e.
# The output is deterministic: fixed key order, floats as Python's repr (shortest round trip),
# so rerunning with the same PyTorch gives the same bytes (a test checks that).
import json
import math
import os
import sys
import warnings

import torch

CONVENTION = (
    "Reference learning-rate sequences from PyTorch's own schedulers (torch.optim.lr_scheduler).\n"
    "Usage: /usr/bin/python3 test/reference/lr_schedules.py [OUT.json]\n"
    "The value for training step (epoch e, batch i of k) is the LR that PyTorch's\n"
    "CosineAnnealingWarmRestarts gives after scheduler.step(e + i/k), i.e. eta(t) at t = e + i/k.\n"
    "Epoch-mode cases use the implicit scheduler.step() once per epoch.\n"
    "No iteration-mode case reaches a restart that PyTorch's closed form misses (T_0=1: t=121 for\n"
    "T_mult=3, t=111 for T_mult=10): the epoch-mode cases through those restarts use the implicit\n"
    "step(), whose integer T_cur is exact."
)


def warm(name, T_0, T_mult, eta_min, base_lr, epochs, steps_per_epoch=None):
    case = {"name": name, "scheduler": "CosineAnnealingWarmRestarts", "mode": "epoch" if steps_per_epoch is None else "iteration"}
    if steps_per_epoch is not None:
        case["steps_per_epoch"] = steps_per_epoch
    case["params"] = {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min, "base_lr": base_lr}
    case["epochs"] = epochs
    return case


def step_lr(name, step_size, gamma, base_lr, epochs):
    return {
        "name": name,
        "scheduler": "StepLR",
        "mode": "epoch",
        "params": {"step_size": step_size, "gamma": gamma, "base_lr": base_lr},
        "epochs": epochs,
    }


CASES = [
    warm("warm-epoch-T01-Tm1", 1, 1, 0.0, 0.1, 80),
    warm("warm-epoch-T01-Tm2", 1, 2, 0.0, 0.1, 80),
    warm("warm-epoch-T010-Tm1", 10, 1, 0.0, 0.1, 80),
    warm("warm-epoch-T010-Tm2", 10, 2, 0.0, 0.1, 80),
    warm("warm-epoch-T02-Tm3", 2, 3, 0.0, 0.1, 80),
    warm("warm-iter-T01-Tm2-k7", 1, 2, 0.0001, 0.05, 40, steps_per_epoch=7),
    warm("warm-iter-T010-Tm2-k4", 10, 2, 0.0001, 0.05, 40, steps_per_epoch=4),
    step_lr("step-7", 7, 0.1, 0.001, 100),
    step_lr("step-60", 60, 0.1, 0.001, 100),
    # Beyond the shared cross-check: eta_min > 0 per epoch, and long runs through the restarts at
    # t=121 (T_mult=3) and t=111 (T_mult=10) that PyTorch's closed form step(t) gets wrong.
    warm("warm-epoch-T010-Tm2-eta", 10, 2, 0.001, 0.1, 80),
    warm("warm-epoch-T01-Tm3-eta", 1, 3, 0.001, 0.05, 130),
    warm("warm-epoch-T01-Tm10-eta", 1, 10, 0.001, 0.1, 115),
]


def run(case):
    p = case["params"]
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=p["base_lr"])
    if case["scheduler"] == "StepLR":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=p["step_size"], gamma=p["gamma"])
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=p["T_0"], T_mult=p["T_mult"], eta_min=p["eta_min"])
    lr = []
    if case["mode"] == "epoch":
        for _ in range(case["epochs"]):
            lr.append(optimizer.param_groups[0]["lr"])
            optimizer.step()  # no gradient: the parameter stays; keeps the step order PyTorch expects
            scheduler.step()
    else:
        k = case["steps_per_epoch"]
        for e in range(case["epochs"]):
            for i in range(k):
                scheduler.step(e + i / k)
                lr.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
    assert all(isinstance(v, float) and math.isfinite(v) for v in lr), case["name"]
    return lr


def main():
    if len(sys.argv) > 2:
        sys.exit("usage: /usr/bin/python3 test/reference/lr_schedules.py [OUT.json]")
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "lr-schedules.pytorch.json")
    version = torch.__version__.split("+")[0]
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. scheduler.step() order warnings; they change no value
        for case in CASES:
            cases.append({**case, "lr": run(case)})
    doc = {"generator": f"PyTorch {version} torch.optim.lr_scheduler", "convention": CONVENTION, "cases": cases}
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(doc, indent=1, ensure_ascii=True, allow_nan=False) + "\n")
    print(f"wrote {out}: {len(cases)} cases, {sum(len(c['lr']) for c in cases)} values ({doc['generator']})")


if __name__ == "__main__":
    main()
