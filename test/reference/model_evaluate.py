# PyTorch reference for model.evaluate()/predict(): the same weights (torch.save(state_dict) from
# our side) in torchvision's ResNet-18 with a 1-channel imagenet stem, on the IDX validation files,
# normalized as the native loader does. Writes probabilities.bin (float32 [N, C], softmax of the
# logits) and metrics.json {loss (F.cross_entropy), accuracy, confusion [true][pred]}.
# usage: model_evaluate.py DATA_DIR WEIGHTS OUT_DIR
import json, sys
import numpy as np
import torch
from torchvision_compat import torchvision

data_dir, weights, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
torch.set_num_threads(2)

def idx(name):
    raw = open(f"{data_dir}/{name}", "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

x = torch.from_numpy(idx("t10k-images-idx3-ubyte").copy()).float().unsqueeze(1)
x = (x / 255.0 - 0.2860) / 0.3530  # Fashion-MNIST statistics, as the native loader
y = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))

model = torchvision.models.resnet18(num_classes=10)
model.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
model.load_state_dict(torch.load(weights))
model.eval()
with torch.no_grad():
    logits = model(x)
probs = torch.softmax(logits, dim=1)
pred = logits.argmax(1)
confusion = torch.zeros(10, 10, dtype=torch.int64)
for t, p in zip(y.tolist(), pred.tolist()):
    confusion[t, p] += 1
probs.numpy().astype(np.float32).tofile(f"{out_dir}/probabilities.bin")
json.dump({
    "loss": torch.nn.functional.cross_entropy(logits, y).item(),
    "accuracy": (pred == y).float().mean().item(),
    "confusion": confusion.tolist(),
}, open(f"{out_dir}/metrics.json", "w"))
