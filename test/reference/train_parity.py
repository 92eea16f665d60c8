# PyTorch reference for the training-loop parity test: ResNet-18 (imagenet stem, 1 input channel),
# SGD momentum 0.9 / weight decay 5e-4, SGDR (T_0=1, T_mult=2) stepped every batch at t = e + i/K,
# on IDX files in file order without augmentation. Prints the per-epoch train loss (each example
# weighted equally) and val loss as JSON, and saves the initial and the final weights for the other side.
# usage: train_parity.py DATA_DIR OUT_DIR EPOCHS BATCH LR
import gzip, json, sys
import numpy as np
import torch
from torchvision_compat import torchvision  # torchvision, also where its C++ ops cannot load

data_dir, out_dir, epochs, batch, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
torch.set_num_threads(2)

def idx(name):
    raw = open(f"{data_dir}/{name}", "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

def images(name):
    x = torch.from_numpy(idx(name).copy()).float().unsqueeze(1)
    return (x / 255.0 - 0.2860) / 0.3530  # Fashion-MNIST statistics, as the native loader

xtr, ytr = images("train-images-idx3-ubyte"), torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
xva, yva = images("t10k-images-idx3-ubyte"), torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))

torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)
model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
torch.nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
torch.save(model.state_dict(), f"{out_dir}/initial.pth")
opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=1, T_mult=2, eta_min=0)
n = len(ytr)
K = (n + batch - 1) // batch
rows = []
for e in range(epochs):
    model.train()
    total = 0.0
    for i in range(K):
        sched.step(e + i / K)
        x, y = xtr[i * batch:(i + 1) * batch], ytr[i * batch:(i + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        total += loss.item() * len(y)
    model.eval()
    with torch.no_grad():
        out = model(xva)
        val = torch.nn.functional.cross_entropy(out, yva).item()
        acc = (out.argmax(1) == yva).float().mean().item()
    rows.append({"train_loss": total / n, "val_loss": val, "val_acc": acc})
torch.save(model.state_dict(), f"{out_dir}/final.pth")
print(json.dumps(rows))
