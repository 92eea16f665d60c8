# PyTorch reference for the Fashion-MNIST learning check (README): ResNet-18 (imagenet stem,
# 1 input channel), batch 64, SGD momentum 0.9, weight decay 5e-4, lr 0.05, SGDR T_0=1, T_mult=2
# stepped every batch, 7 epochs, on training images chosen like the native loader's limitTrain
# (class-balanced round robin in file order) or the first N (--first), shuffled each epoch.
# usage: fashion_mnist_learning.py [--first] [--no-normalize]
import gzip, json, os, sys, time
import numpy as np
import torch
from torchvision_compat import torchvision  # torchvision, also where its C++ ops cannot load

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
root = "/usr/share/datasets/fashion-mnist"

def idx(name):
    path = f"{root}/{name}"
    raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

def balanced(labels, n):
    per = {c: list(np.nonzero(labels == c)[0]) for c in range(10)}
    out, k = [], 0
    while len(out) < n:
        for c in range(10):
            if len(out) < n and k < len(per[c]):
                out.append(per[c][k])
        k += 1
    return sorted(out)

xtr, ytr, xva, yva = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte"), idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")
tr = list(range(2048)) if "--first" in sys.argv else balanced(ytr, 2048)
va = list(range(1000)) if "--first" in sys.argv else balanced(yva, 1000)
norm = (lambda x: x) if "--no-normalize" in sys.argv else (lambda x: (x - 0.2860) / 0.3530)
X = norm(torch.from_numpy(xtr[tr].copy()).float().div(255).unsqueeze(1)); Y = torch.from_numpy(ytr[tr].astype(np.int64))
XV = norm(torch.from_numpy(xva[va].copy()).float().div(255).unsqueeze(1)); YV = torch.from_numpy(yva[va].astype(np.int64))
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10)
m.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
torch.nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=1, T_mult=2)
K = (len(Y) + 63) // 64
accs = []
t0 = time.time()
for e in range(7):
    m.train()
    perm = torch.randperm(len(Y))
    for i in range(K):
        sched.step(e + i / K)
        b = perm[i * 64:(i + 1) * 64]
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(X[b]), Y[b]).backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        accs.append(round((m(XV).argmax(1) == YV).float().mean().item(), 4))
print(json.dumps({"val_acc": accs, "seconds": round(time.time() - t0, 1)}))
