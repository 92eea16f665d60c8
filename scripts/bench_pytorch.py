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
    a = p.parse_args()

    import torch
    import torch.nn.functional as F
    import torchvision

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

    run(a.warmup, 0)
    sync()
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
            "mkldnn": bool(torch.backends.mkldnn.is_available()), "channels_last": a.channels_last}
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


if __name__ == "__main__":
    main()
