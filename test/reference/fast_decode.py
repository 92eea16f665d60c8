"""PIL/torchvision's view of image-folder samples, exact and after Image.draft, for the given crops.

usage:
  fast_decode.py fixtures ROOT
      writes ROOT/train/<class>/*.jpg: JPEGs of several sizes, chroma subsamplings (4:2:0, 4:2:2,
      4:4:4), grayscale, progressive and CMYK, plus one PNG; prints nothing.
  fast_decode.py expect REQUEST.json OUT.f32
      REQUEST: {"size": S, "samples": [{"path", "x", "y", "w", "h", "flip", "scale"}...],
                "val": [{"path", "resize", "size"}...]}
      For each sample: RandomResizedCrop's resized_crop + flip + ToTensor on the exact decode
      (scale 1) or on the image after im.draft('RGB', (W // scale, H // scale)) and
      im.resize((S, S), BILINEAR, box=crop / scale). For each val entry: the draft the
      transform asks for (Resize's size), then Resize(resize) + CenterCrop(size) + ToTensor.
      Writes all tensors, in order, as float32.
"""
import json
import os
import sys

import numpy as np
import torch
from torchvision_compat import torchvision  # first: loads it also where its C++ ops cannot
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image


def picture(w, h, channels, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [np.sin(x / (9.0 + 4 * k) + k) * np.cos(y / (13.0 + 3 * k) - k) * 100 + 128 for k in range(channels)]
    img = np.stack(planes, -1) + rng.randint(-20, 21, (h, w, channels))
    return np.clip(img, 0, 255).astype(np.uint8)


def fixtures(root):
    rng = np.random.RandomState(7)
    specs = [
        ('a/420_500x375.jpg', 'RGB', 500, 375, {'quality': 90}),
        ('a/420_odd_333x257.jpg', 'RGB', 333, 257, {'quality': 85}),
        ('a/444_400x300.jpg', 'RGB', 400, 300, {'quality': 90, 'subsampling': 0}),
        ('a/422_300x400.jpg', 'RGB', 300, 400, {'quality': 90, 'subsampling': 1}),
        ('b/gray_320x240.jpg', 'L', 320, 240, {'quality': 90}),
        ('b/progressive_480x360.jpg', 'RGB', 480, 360, {'quality': 88, 'progressive': True}),
        ('b/cmyk_256x192.jpg', 'CMYK', 256, 192, {'quality': 92}),
        ('b/large_640x480.jpg', 'RGB', 640, 480, {'quality': 80}),
        ('b/small_40x36.jpg', 'RGB', 40, 36, {'quality': 90}),
        ('b/plain.png', 'RGB', 200, 150, {}),
    ]
    for rel, mode, w, h, kw in specs:
        path = os.path.join(root, 'train', rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if mode == 'L':
            im = Image.fromarray(picture(w, h, 1, rng)[:, :, 0], 'L')
        elif mode == 'CMYK':
            im = Image.fromarray(picture(w, h, 4, rng), 'CMYK')
        else:
            im = Image.fromarray(picture(w, h, 3, rng), 'RGB')
        im.save(path, **kw)


def open_drafted(path, size):
    im = Image.open(path)
    if size is not None:
        im.draft('RGB', size)
    return im.convert('RGB')


def expect(request_file, out_file):
    req = json.load(open(request_file))
    S = req['size']
    out = []
    for s in req['samples']:
        d = s['scale']
        if d == 1:
            im = open_drafted(s['path'], None)
            t = F.resized_crop(im, s['y'], s['x'], s['h'], s['w'], [S, S], T.InterpolationMode.BILINEAR)
        else:
            full = Image.open(s['path'])
            W, H = full.size
            im = open_drafted(s['path'], (W // d, H // d))
            want = ((W + d - 1) // d, (H + d - 1) // d)
            assert im.size == want, (s['path'], im.size, want)
            box = (s['x'] / d, s['y'] / d, (s['x'] + s['w']) / d, (s['y'] + s['h']) / d)
            t = im.resize((S, S), Image.BILINEAR, box=box)
        if s['flip']:
            t = F.hflip(t)
        out.append(F.to_tensor(t))
    for v in req.get('val', []):
        full = Image.open(v['path'])
        W, H = full.size
        short, long_ = min(W, H), max(W, H)
        other = int(v['resize'] * long_ / short)
        target = (v['resize'], other) if W <= H else (other, v['resize'])
        im = open_drafted(v['path'], target)
        t = T.Compose([T.Resize(v['resize']), T.CenterCrop(v['size']), T.ToTensor()])(im)
        out.append(t)
    torch.stack(out).numpy().astype(np.float32).tofile(out_file)


if __name__ == '__main__':
    if sys.argv[1] == 'fixtures':
        fixtures(sys.argv[2])
    else:
        expect(sys.argv[2], sys.argv[3])
