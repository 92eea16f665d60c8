"""Writes small ImageFolder fixtures (JPEG and PNG: RGB, grayscale, RGBA, palette, nested, upper-case
extension) and torchvision's view of them: ImageFolder's sample order and the val transform
(Resize(256) + CenterCrop(224) + ToTensor [+ Normalize]) as float32 files.

usage: image_folder_fixtures.py ROOT   (prints a JSON summary)
"""
import json
import os
import sys

import numpy as np
import torch
from torchvision_compat import torchvision  # first: loads it also where its C++ ops cannot
import torchvision.transforms as T
from PIL import Image
from torchvision.datasets import ImageFolder

root = sys.argv[1]
rng = np.random.RandomState(0)


def picture(w, h, channels):
    """Smooth gradients plus noise: JPEG-realistic content."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [np.sin(x / (11.0 + 5 * k) + k) * np.cos(y / (17.0 + 3 * k) - k) * 100 + 128 for k in range(channels)]
    img = np.stack(planes, -1) + rng.randint(-25, 26, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


def save(rel, mode, w, h, **kw):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if mode == 'RGB':
        im = Image.fromarray(picture(w, h, 3), 'RGB')
    elif mode == 'L':
        im = Image.fromarray(picture(w, h, 1)[:, :, 0], 'L')
    elif mode == 'RGBA':
        rgba = picture(w, h, 4)
        rgba[:, :, 3] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]  # varying alpha: must be dropped, not composited
        im = Image.fromarray(rgba, 'RGBA')
    elif mode == 'P':
        im = Image.fromarray(picture(w, h, 3), 'RGB').quantize(colors=64)
    im.save(path, **kw)


images = [
    ('train/ant/a1.jpg', 'RGB', 320, 240, {'quality': 90}),
    ('train/ant/a2.png', 'L', 200, 260, {}),
    ('train/ant/sub/a3.jpg', 'RGB', 230, 250, {'quality': 85}),
    ('train/ant/z0.jpg', 'RGB', 260, 240, {'quality': 80}),
    ('train/bee/b1.jpg', 'RGB', 224, 224, {'quality': 95}),
    ('train/bee/b2.png', 'RGBA', 250, 250, {}),
    ('train/bee/b3.png', 'P', 180, 300, {}),
    ('train/cat/c1.jpeg', 'L', 256, 300, {'quality': 90}),
    ('train/cat/c2.JPG', 'RGB', 500, 333, {'quality': 90}),
    ('val/ant/v1.png', 'RGBA', 301, 257, {}),
    ('val/ant/v2.jpg', 'RGB', 500, 375, {'quality': 90}),
    ('val/bee/v3.jpg', 'L', 333, 500, {'quality': 90}),
    ('val/bee/v4.png', 'P', 256, 256, {}),
    ('val/cat/v5.jpg', 'RGB', 640, 480, {'quality': 75}),
    ('val/cat/v6.png', 'RGB', 240, 260, {}),
]
for rel, mode, w, h, kw in images:
    save(os.path.join('good', rel), mode, w, h, **kw)
with open(os.path.join(root, 'good/train/cat/notes.txt'), 'w') as f:
    f.write('not an image')

good = os.path.join(root, 'good')
to_tensor = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
normalize = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
val = ImageFolder(os.path.join(good, 'val'))
plain = torch.stack([to_tensor(val.loader(p)) for p, _ in val.samples])
plain.numpy().astype(np.float32).tofile(os.path.join(root, 'val_plain.f32'))
normalize(plain).numpy().astype(np.float32).tofile(os.path.join(root, 'val_normalized.f32'))
# JPEG decode + ToTensor of an image already at 224x224 (no resampling involved).
at_size = T.ToTensor()(Image.open(os.path.join(good, 'train/bee/b1.jpg')).convert('RGB'))
at_size.numpy().astype(np.float32).tofile(os.path.join(root, 'b1_plain.f32'))
train = ImageFolder(os.path.join(good, 'train'))

# A folder with broken images: garbage bytes named .jpg, a truncated JPEG, a PNG with a bad CRC.
save('bad/train/x/a_good.jpg', 'RGB', 64, 48)
with open(os.path.join(root, 'bad/train/x/b_garbage.jpg'), 'wb') as f:
    f.write(b'this is not a jpeg at all' * 10)
save('bad/train/x/c_good.png', 'RGB', 40, 40)
save('bad/train/y/d_full.jpg', 'RGB', 300, 200, quality=95)
full = open(os.path.join(root, 'bad/train/y/d_full.jpg'), 'rb').read()
with open(os.path.join(root, 'bad/train/y/e_truncated.jpg'), 'wb') as f:
    f.write(full[: len(full) // 2])
save('bad/train/y/f_crc.png', 'RGB', 50, 50)
png = bytearray(open(os.path.join(root, 'bad/train/y/f_crc.png'), 'rb').read())
idat = png.find(b'IDAT')
png[idat + 10] ^= 0xFF
with open(os.path.join(root, 'bad/train/y/f_crc.png'), 'wb') as f:
    f.write(png)
save('bad/val/x/g.jpg', 'RGB', 30, 30)
save('bad/val/y/h.jpg', 'RGB', 30, 30)

# Throughput: 96 JPEGs of 500x375 in 3 classes.
for i in range(96):
    save('speed/train/c%d/%03d.jpg' % (i % 3, i), 'RGB', 500, 375, quality=90)

print(json.dumps({
    'train': [[os.path.relpath(p, good), t] for p, t in train.samples],
    'val': [[os.path.relpath(p, good), t] for p, t in val.samples],
    'classes': train.classes,
}))
