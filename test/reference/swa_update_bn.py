# PyTorch reference for SWA: torch.optim.swa_utils.AveragedModel (equal-weight average of the
# parameters) over the given snapshot state dicts, then update_bn over the given batches. Saves the
# averaged model's state dict (parameters and recomputed BatchNorm buffers) and its eval-mode logits
# on the first batch, for the TS side to compare with WeightAverage + updateBatchNorm.
# usage: swa_update_bn.py OUT_DIR SNAPSHOT.pth [SNAPSHOT.pth ...]   (batches: OUT_DIR/batches.pth)
import sys
import torch
from torch.optim.swa_utils import AveragedModel, update_bn
from torchvision_compat import torchvision  # torchvision, also where its C++ ops cannot load

out_dir, snapshots = sys.argv[1], sys.argv[2:]
torch.set_num_threads(2)

def resnet18_1ch():
    m = torchvision.models.resnet18(num_classes=10)
    m.conv1 = torch.nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return m

model = resnet18_1ch()
model.load_state_dict(torch.load(snapshots[0], weights_only=True))
swa = AveragedModel(model)
for s in snapshots:
    model.load_state_dict(torch.load(s, weights_only=True))
    swa.update_parameters(model)
batches = torch.load(f"{out_dir}/batches.pth", weights_only=True)["images"]
update_bn([b for b in batches], swa)
torch.save(swa.module.state_dict(), f"{out_dir}/reference-swa.pth")
swa.module.eval()
with torch.no_grad():
    torch.save({"logits": swa.module(batches[0])}, f"{out_dir}/reference-logits.pth")
print(int(swa.n_averaged))
