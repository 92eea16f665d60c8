#!/usr/bin/env python3
"""PyTorch reference for `sgdr bench`: the same work as ours, in eager PyTorch.

Run by the bench as a long-lived server so the two sides can be interleaved without paying
start-up or warm-up again each round:

    /usr/bin/python3 scripts/bench_pytorch.py --arch resnet18 --batch-size 64 --image-size 32 \
        --threads 2 --mode train --server

It builds the model and the random batches (resident in memory), runs the warm-up steps, prints one
JSON line {"ready": true, ...}, then answers each stdin line {"steps": N} with one JSON line
{"seconds": s, "images": n, "page_faults": minor faults} for N timed steps (the device is synchronised before the clock stops).
`--steps N` without `--server` runs once and prints the same object.

The training step is what a PyTorch user writes: zero_grad(set_to_none=True), forward,
cross_entropy, backward, SGD(momentum, weight_decay).step(); nothing read back per step.
Evaluation is model.eval() under torch.inference_mode(), loss and accuracy kept on the device.

`--compile` (PyTorch >= 2.0) is what a speed-minded PyTorch 2.x user tries next: the same loop with
`model = torch.compile(model)`, default mode, the inductor backend (on CPU: generated C++/OpenMP
kernels built with the system C++ compiler, plus oneDNN/BLAS for convolutions and matmuls). In
train mode the model's forward and backward are compiled (Dynamo captures the forward, AOTAutograd
derives the backward graph, inductor compiles both); cross_entropy, zero_grad and the optimizer
step stay eager, as in a typical user's loop (the optimizer is not wrapped in torch.compile). In
eval mode the forward is compiled under inference_mode. The warm-up includes the compilation: it
runs at least 2 steps (the first compiles: the forward at the call and, in train mode, the backward
at loss.backward(); the second is the first compiled step), and the ready line's info gives `compile_seconds`, the wall time of that first step
(tracing, AOTAutograd, code generation, the C++ builds, one step). Inductor's on-disk caches
(FX graph cache under TORCHINDUCTOR_CACHE_DIR, default /tmp/torchinductor_$USER) make a repeated
run compile much faster; `fx_graph_cache` in the info counts its hits and misses. The ready info
always says `compiled: true/false`.
"""
import argparse
import json
import resource
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave as is)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--mode", choices=["train", "eval"], default="train")
    p.add_argument("--channels-last", action="store_true", help="model and inputs in channels_last")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--pool", type=int, default=4, help="distinct random batches cycled through")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server", action="store_true")
    p.add_argument("--compile", action="store_true",
                   help="model = torch.compile(model) (default mode, inductor backend; PyTorch >= 2.0)")
    p.add_argument("--lever-study", action="store_true",
                   help="measure PyTorch-side levers (memory format, oneDNN, set_to_none, inference mode) "
                        "in interleaved rounds; prints one JSON object")
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args()
    if a.lever_study:
        return lever_study(a)

    import torch
    import torch.nn.functional as F
    from torchvision_compat import torchvision

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True

    model = getattr(torchvision.models, a.arch)(num_classes=a.num_classes)
    if a.channels != 3:
        model.conv1 = torch.nn.Conv2d(a.channels, 64, 7, 2, 3, bias=False)
    model.to(device)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    if a.channels_last:
        model.to(memory_format=torch.channels_last)
    if a.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"bench_pytorch.py: --compile needs torch.compile (PyTorch >= 2.0); this is torch {torch.__version__}")
        model = torch.compile(model)  # default mode, backend="inductor"; parameters() are the original module's
    g = torch.Generator().manual_seed(a.seed)
    xs = [torch.randn(a.batch_size, a.channels, a.image_size, a.image_size, generator=g).to(device).contiguous(memory_format=fmt)
          for _ in range(a.pool)]
    ys = [torch.randint(0, a.num_classes, (a.batch_size,), generator=g).to(device) for _ in range(a.pool)]

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    if a.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)

        def run(n, start):
            nonlocal loss_sum
            for i in range(n):
                k = (start + i) % a.pool
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(xs[k]), ys[k])
                loss.backward()
                opt.step()
                loss_sum += loss.detach()
    else:
        model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=device)

        def run(n, start):
            nonlocal correct
            with torch.inference_mode():
                for i in range(n):
                    k = (start + i) % a.pool
                    out = model(xs[k])
                    F.cross_entropy(out, ys[k], reduction="sum")
                    correct += out.argmax(1).eq(ys[k]).sum()

    done = 0

    def timed(n):
        nonlocal done
        sync()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        run(n, done)
        sync()
        s = time.perf_counter() - t0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
        done += n
        return {"seconds": s, "images": n * a.batch_size, "page_faults": faults}

    warmup = a.warmup
    compile_seconds = None
    if a.compile:
        # The first step compiles (forward at the call, backward at loss.backward()); it is part of
        # the warm-up, never of a timed round, and then at least one compiled step runs untimed.
        warmup = max(2, a.warmup)
        sync()
        t0 = time.perf_counter()
        run(1, 0)
        sync()
        compile_seconds = time.perf_counter() - t0
        run(warmup - 1, 1)
    else:
        run(warmup, 0)
    sync()
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
            "mkldnn": bool(torch.backends.mkldnn.is_available()), "channels_last": a.channels_last,
            "compiled": a.compile, "warmup": warmup}
    if a.compile:
        info.update(compile_seconds=compile_seconds, backend="inductor", mode="default", **compile_stats(torch))
    if not a.server:
        r = timed(a.steps)
        r.update(info)
        print(json.dumps(r), flush=True)
        return
    print(json.dumps(dict(ready=True, **info)), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("quit"):
            break
        print(json.dumps(timed(int(req["steps"]))), flush=True)


def compile_stats(torch):
    """What Dynamo and inductor report after the compilation: graphs captured, graph breaks, and the
    FX graph cache's hits and misses (a warm cache is why a second run compiles in seconds)."""
    try:
        from torch._dynamo.utils import counters
        return {"graphs": int(counters["stats"].get("unique_graphs", 0)),
                "graph_breaks": int(sum(counters["graph_break"].values())),
                "fx_graph_cache": {"hit": int(counters["inductor"].get("fxgraph_cache_hit", 0)),
                                   "miss": int(counters["inductor"].get("fxgraph_cache_miss", 0))}}
    except Exception:  # private counters: informative only
        return {}


def lever_study(a):
    """The levers as PyTorch sees them, on the same LibTorch kernels: each configuration runs --steps
    training steps (or 4x as many evaluation batches) per round, rounds rotate the order, and each
    configuration's result is the median over rounds of its speed relative to the default."""
    import statistics
    import torch
    import torch.nn.functional as F
    from torchvision_compat import torchvision

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    cl = torch.channels_last

    def model(fmt=None):
        torch.manual_seed(a.seed)
        m = getattr(torchvision.models, a.arch)(num_classes=a.num_classes)
        return m.to(memory_format=fmt) if fmt else m

    x = torch.randn(a.batch_size, a.channels, a.image_size, a.image_size)
    y = torch.randint(0, a.num_classes, (a.batch_size,))
    xcl = x.contiguous(memory_format=cl)

    def trainer(m, inp, set_to_none=True, mkldnn=True):
        opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)

        def run():
            torch.backends.mkldnn.enabled = mkldnn
            m.train()
            t0 = time.perf_counter()
            for _ in range(a.steps):
                opt.zero_grad(set_to_none=set_to_none)
                F.cross_entropy(m(inp), y).backward()
                opt.step()
            return a.batch_size * a.steps / (time.perf_counter() - t0)
        return run

    def evaluator(m, inp, mode="inference_mode", mkldnn=True):
        def run():
            torch.backends.mkldnn.enabled = mkldnn
            m.eval()
            n = 4 * a.steps
            t0 = time.perf_counter()
            if mode == "inference_mode":
                with torch.inference_mode():
                    for _ in range(n):
                        m(inp)
            elif mode == "no_grad":
                with torch.no_grad():
                    for _ in range(n):
                        m(inp)
            else:
                for _ in range(n):
                    m(inp).sum()
            return a.batch_size * n / (time.perf_counter() - t0)
        return run

    studies = {
        "train": [("default (NCHW, oneDNN, set_to_none=True)", trainer(model(), x)),
                  ("channels_last input", trainer(model(), xcl)),
                  ("channels_last model and input", trainer(model(cl), xcl)),
                  ("set_to_none=False", trainer(model(), x, set_to_none=False)),
                  ("oneDNN off (im2col + BLAS)", trainer(model(), x, mkldnn=False))],
        "eval": [("default (inference_mode, NCHW)", evaluator(model(), x)),
                 ("no_grad", evaluator(model(), x, "no_grad")),
                 ("autograd on", evaluator(model(), x, "grad")),
                 ("channels_last input", evaluator(model(), xcl)),
                 ("channels_last model and input", evaluator(model(cl), xcl)),
                 ("oneDNN off (im2col + BLAS)", evaluator(model(), x, mkldnn=False))],
    }
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "arch": a.arch, "batch_size": a.batch_size,
           "image_size": a.image_size, "steps": a.steps, "rounds": a.rounds}
    for name, configs in studies.items():
        for _, run in configs:
            run()  # warm-up
        speeds = {label: [] for label, _ in configs}
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for label, run in order:
                speeds[label].append(run())
        base = speeds[configs[0][0]]
        out[name] = {label: {"images_per_second": round(statistics.median(v), 1),
                             "vs_default": round(statistics.median([s / b for s, b in zip(v, base)]), 3)}
                     for label, v in speeds.items()}
    torch.backends.mkldnn.enabled = True
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
