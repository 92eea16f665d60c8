# Reference for the ResNet parity test: a torchvision ResNet with non-trivial BatchNorm running
# statistics, saved with torch.save(model.state_dict()), plus an input batch and the eval-mode output.
# usage: resnet_outputs.py OUT_DIR ARCH BATCH SIZE
import json, sys
import torch
from torchvision_compat import torchvision  # torchvision, also where its C++ ops cannot load

out, arch, batch, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
model = getattr(torchvision.models, arch)(num_classes=10)
# Train-mode passes move the running statistics away from their 0/1 initial values, and random
# affine parameters make BatchNorm do real work in eval mode.
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
model.train()
with torch.no_grad():
    for _ in range(3):
        model(torch.randn(4, 3, size, size) * 2 + 0.5)
model.eval()
torch.save(model.state_dict(), f"{out}/weights.pth")
x = torch.randn(batch, 3, size, size)
with torch.no_grad():
    y = model(x)
x.numpy().tofile(f"{out}/input.bin")
y.numpy().tofile(f"{out}/output.bin")
json.dump({"input_shape": list(x.shape), "output_shape": list(y.shape),
           "bn1_running_mean_sum": float(model.bn1.running_mean.sum())}, open(f"{out}/meta.json", "w"))
