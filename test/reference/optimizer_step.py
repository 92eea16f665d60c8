# Reference for the optimizer parity test: ResNet-18 initial weights, two batches, and the
# parameters and buffers after two optimizer steps (the second step exercises momentum/Adam state).
# usage: optimizer_step.py OUT_DIR sgd|sgd-nesterov|adamw
import sys
import torch
from torchvision_compat import torchvision  # torchvision, also where its C++ ops cannot load

out, kind = sys.argv[1], sys.argv[2]
torch.manual_seed(1)
model = torchvision.models.resnet18(num_classes=10)
torch.save(model.state_dict(), f"{out}/initial.pth")
xs = [torch.randn(8, 3, 32, 32) for _ in range(2)]
ys = [torch.randint(0, 10, (8,)) for _ in range(2)]
for i, (x, y) in enumerate(zip(xs, ys)):
    x.numpy().tofile(f"{out}/x{i}.bin")
    y.numpy().tofile(f"{out}/y{i}.bin")
if kind == "adamw":
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
else:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=(kind == "sgd-nesterov"))
model.train()
losses = []
for x, y in zip(xs, ys):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
torch.save(model.state_dict(), f"{out}/after.pth")
print(" ".join(repr(l) for l in losses))
